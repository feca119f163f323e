import { lookup } from 'node:dns'
import { BlockList, isIP, type LookupFunction } from 'node:net'

// Addresses a webhook may not reach unless WEBHOOK_ALLOW_PRIVATE_NETWORKS is on: everything that
// is not the public internet (loopback, private, link-local (cloud metadata), shared, multicast,
// documentation, reserved), in IPv4 and IPv6, IPv4-mapped IPv6 included.
const blocked = new BlockList()
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
  ['224.0.0.0', 4], ['240.0.0.0', 4]
] as const) blocked.addSubnet(net, bits, 'ipv4')
for (const [net, bits] of [
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['100::', 64], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]
] as const) blocked.addSubnet(net, bits, 'ipv6')

/** True for an address on the public internet. */
export function isPublicAddress (address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped?.[1] !== undefined) return !blocked.check(mapped[1], 'ipv4')
  const family = isIP(address)
  if (family === 0) return false
  return !blocked.check(address, family === 4 ? 'ipv4' : 'ipv6')
}

export class AddressRefused extends Error {
  override name = 'AddressRefused'
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
      if (refused !== undefined) return callback(new AddressRefused(`${hostname} resolves to ${refused.address}, not a public address`), '', 0)
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
  const bad = addresses.find((a) => !isPublicAddress(a))
  return bad === undefined ? undefined : `host ${host} resolves to ${bad}, not a public address`
}
