import { lookup } from 'node:dns'
import { BlockList, isIP, type LookupFunction } from 'node:net'
import type { buildConnector } from 'undici'

// Addresses a webhook may not reach unless WEBHOOK_ALLOW_PRIVATE_NETWORKS is on: everything that
// is not the public internet (loopback, private, link-local (cloud metadata), shared, multicast,
// documentation, reserved), in IPv4 and IPv6, IPv4-mapped IPv6 included, and the IPv6 ranges that
// embed or relay an IPv4 address.
const blocked = new BlockList()
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
  ['224.0.0.0', 4], ['240.0.0.0', 4],
  // The 6to4 relay anycast: a hop into whatever IPv4 address a 6to4 packet embeds.
  ['192.88.99.0', 24]
] as const) blocked.addSubnet(net, bits, 'ipv4')
for (const [net, bits] of [
  // ::/96 holds the unspecified address, loopback and the IPv4-compatible ::a.b.c.d (which embed any IPv4).
  ['::', 96], ['::1', 128], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64],
  // Teredo and 6to4 embed an IPv4 address (a private one as easily as any); fec0::/10 is the old site-local.
  ['2001::', 32], ['2002::', 16], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8]
] as const) blocked.addSubnet(net, bits, 'ipv6')

/** True for an address on the public internet. */
export function isPublicAddress (address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped?.[1] !== undefined) return !blocked.check(mapped[1], 'ipv4')
  const family = isIP(address)
  if (family === 0) return false
  return !blocked.check(address, family === 4 ? 'ipv4' : 'ipv6')
}

class AddressRefused extends Error {
  override name = 'AddressRefused'
}

/** Says what is refused and who may allow it, but never which address a name resolved to (that would map the operator's network for the client). */
const NOT_PUBLIC = 'is not a public address (loopback, private, link-local and other non-public ranges are refused unless the operator sets WEBHOOK_ALLOW_PRIVATE_NETWORKS)'

/**
 * Wraps a connector so the address actually connected to is checked, whatever the URL named:
 * an IP literal (which no lookup sees), a name, or a name that resolved differently later.
 */
export function guardedConnector (connect: buildConnector.connector, allowPrivate: boolean): buildConnector.connector {
  if (allowPrivate) return connect
  return (options, callback) => {
    connect(options, (err, socket) => {
      if (err !== null) return callback(err, null)
      const address = socket.remoteAddress
      if (address === undefined || !isPublicAddress(address)) {
        socket.destroy()
        return callback(new AddressRefused(`${options.hostname} ${NOT_PUBLIC}`), null)
      }
      callback(null, socket)
    })
  }
}

/**
 * A DNS lookup for the delivery's socket that refuses non-public addresses: the address checked is
 * the address connected to, so a name that resolves differently later (DNS rebinding) gains nothing.
 */
export function guardedLookup (allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err !== null) return callback(err, '', 0)
      const list = addresses as Array<{ address: string, family: number }>
      const refused = allowPrivate ? undefined : list.find((a) => !isPublicAddress(a.address))
      // What a name resolves to stays out of the message: the client reads it in its delivery log.
      if (refused !== undefined) return callback(new AddressRefused(`${hostname} ${NOT_PUBLIC}`), '', 0)
      if ((options as { all?: boolean }).all === true) return (callback as unknown as (e: null, a: typeof list) => void)(null, list)
      const first = list[0]
      if (first === undefined) return callback(new AddressRefused(`${hostname} has no address`), '', 0)
      callback(null, first.address, first.family)
    })
  }
}

/** Checks a URL at registration: its scheme, and that its host resolves to public addresses only. */
export async function checkWebhookUrl (url: string, options: { allowPrivate: boolean, requireHttps: boolean }): Promise<string | undefined> {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return 'is not a URL'
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'must be http(s)'
  if (options.requireHttps && parsed.protocol !== 'https:') return 'must be https'
  if (parsed.username !== '' || parsed.password !== '') return 'must not carry credentials'
  if (options.allowPrivate) return undefined
  const host = parsed.hostname.replace(/^\[|\]$/g, '')
  const addresses = isIP(host) !== 0
    ? [host]
    : await new Promise<string[]>((resolve) => lookup(host, { all: true }, (err, list) => resolve(err === null ? list.map((a) => a.address) : [])))
  if (addresses.length === 0) return `host ${host} does not resolve`
  return addresses.every(isPublicAddress) ? undefined : `host ${host} ${NOT_PUBLIC}`
}
