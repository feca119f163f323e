/**
 * Verifies a webhook delivery (Standard Webhooks v1) with Web Crypto, so it runs in Node.js,
 * browsers, Deno and Bun alike. `body` is the raw request body; `secrets` the `whsec_…` secrets
 * in use (two during a rotation). Resolves the parsed payload, or throws when no secret's
 * signature matches or the timestamp is more than `toleranceSeconds` away.
 */
export async function verifyWebhook (body: string, headers: Record<string, string | undefined>, secrets: string[], toleranceSeconds = 300): Promise<unknown> {
  const id = headers['webhook-id']
  const timestamp = headers['webhook-timestamp']
  const signatures = headers['webhook-signature']
  if (id === undefined || timestamp === undefined || signatures === undefined) throw new Error('missing webhook-id, webhook-timestamp or webhook-signature')
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceSeconds) throw new Error('webhook-timestamp is too old or too new')
  const given = signatures.split(' ').map((s) => s.split(',')).filter(([v]) => v === 'v1').map(([, sig]) => sig ?? '')
  const data = new TextEncoder().encode(`${id}.${timestamp}.${body}`)
  for (const secret of secrets) {
    const raw = Uint8Array.from(atob(secret.replace(/^whsec_/, '')), (c) => c.charCodeAt(0))
    const key = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
    const expected = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.sign('HMAC', key, data))))
    // Compared in full whatever differs first: the answer's timing tells nothing.
    if (given.some((sig) => sig.length === expected.length && [...sig].reduce((d, c, i) => d | (c.charCodeAt(0) ^ expected.charCodeAt(i)), 0) === 0)) {
      return JSON.parse(body) as unknown
    }
  }
  throw new Error('no signature matches')
}
