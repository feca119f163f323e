import { redisScript } from '@request-out/redis-connection'

/**
 * Registers or changes a client's endpoint: reads and replaces its entry in one step, so two first
 * registrations at once cannot answer a secret the other one overwrote (it would never sign). It is
 * enabled again unless an operator disabled it (that stays until an operator enables it).
 *
 * KEYS: endpoints (the hash, field = client).
 * ARGV: clientId, url, events (JSON), now (ISO), secret (a new one: kept only when the entry is new).
 * Reply: {1 created | 0 changed, the entry (JSON)}.
 */
export const putEndpointScript = redisScript({
  name: 'roWebhookPut',
  keys: ['endpoints'],
  args: ['clientId', 'url', 'events', 'now', 'secret'],
  lua: `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if raw then
  local e = cjson.decode(raw)
  e.Url = ARGV[2]
  e.Events = cjson.decode(ARGV[3])
  e.UpdatedAt = ARGV[4]
  if e.DisabledBy ~= 'operator' then
    e.Enabled = true
    e.DisabledReason = cjson.null
    e.DisabledBy = cjson.null
  end
  raw = cjson.encode(e)
  redis.call('HSET', KEYS[1], ARGV[1], raw)
  return {0, raw}
end
raw = cjson.encode({ Url = ARGV[2], Events = cjson.decode(ARGV[3]), Enabled = true, DisabledReason = cjson.null, DisabledBy = cjson.null,
  CreatedAt = ARGV[4], UpdatedAt = ARGV[4], Secrets = { { Secret = ARGV[5], Until = cjson.null } } })
redis.call('HSET', KEYS[1], ARGV[1], raw)
return {1, raw}
`,
  reply: (raw) => {
    const [created, entry] = raw as [number, string]
    return { created: created === 1, entry }
  }
})
