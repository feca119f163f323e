import { createHmac, randomBytes } from 'node:crypto'

/** A new signing secret: `whsec_` + base64 of 32 random bytes (Standard Webhooks). */
export function newSecret (): string {
  return `whsec_${randomBytes(32).toString('base64')}`
}

/**
 * The `webhook-signature` header: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` for each
 * secret, space-separated (during a rotation both the new and the old secret sign).
 */
export function signature (secrets: string[], id: string, timestampSeconds: number, body: string): string {
  return secrets.map((secret) => {
    const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64')
    return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`
  }).join(' ')
}
