import { redisScript } from '@request-out/redis-connection'

/**
 * A new secret for a client's endpoint, in one step (two rotations at once cannot answer a secret
 * that never signs). The current secret signs for the grace period; one still in an earlier grace
 * period stops: two secrets at most.
 *
 * KEYS: endpoints (the hash, field = client).
 * ARGV: clientId, nowMs, secret (the new one), graceMs, now (ISO).
 * Reply: the entry (JSON), or null when the client has none.
 */
export const rotateSecretScript = redisScript({
  name: 'roWebhookRotate',
  keys: ['endpoints'],
  args: ['clientId', 'nowMs', 'secret', 'graceMs', 'now'],
  lua: `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local e = cjson.decode(raw)
local secrets = { { Secret = ARGV[3], Until = cjson.null } }
for _, s in ipairs(e.Secrets) do
  if s.Until == cjson.null then secrets[2] = { Secret = s.Secret, Until = tonumber(ARGV[2]) + tonumber(ARGV[4]) } end
end
e.Secrets = secrets
e.UpdatedAt = ARGV[5]
raw = cjson.encode(e)
redis.call('HSET', KEYS[1], ARGV[1], raw)
return raw
`,
  reply: (raw) => raw as string | null
})
