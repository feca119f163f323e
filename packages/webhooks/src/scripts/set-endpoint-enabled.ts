import { redisScript } from '@request-out/redis-connection'

/**
 * Enables or disables a client's endpoint. A receiver's 410 does not replace an operator's disable.
 *
 * KEYS: endpoints (the hash, field = client).
 * ARGV: clientId, enabled (1 / 0), reason, by (operator / receiver), now (ISO).
 * Reply: the entry (JSON), or null when the client has none.
 */
export const setEndpointEnabledScript = redisScript({
  name: 'roWebhookSetEnabled',
  keys: ['endpoints'],
  args: ['clientId', 'enabled', 'reason', 'by', 'now'],
  lua: `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local e = cjson.decode(raw)
if ARGV[2] == '1' then
  e.Enabled = true
  e.DisabledReason = cjson.null
  e.DisabledBy = cjson.null
elseif e.DisabledBy ~= 'operator' then
  e.Enabled = false
  e.DisabledReason = ARGV[3]
  e.DisabledBy = ARGV[4]
end
e.UpdatedAt = ARGV[5]
raw = cjson.encode(e)
redis.call('HSET', KEYS[1], ARGV[1], raw)
return raw
`,
  reply: (raw) => raw as string | null
})
