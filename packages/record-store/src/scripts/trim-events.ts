import { redisScript } from '@request-out/redis-connection'

/**
 * Trims a ticket group's event stream to MINID and records the newest entry it removed as the
 * stream's max-deleted-entry-id (XSETID MAXDELETEDID): XTRIM alone leaves that at what XDEL last
 * removed, and an event stream that resumes after an id must know whether anything newer went.
 *
 * KEYS: events (the group's stream).
 * ARGV: minId (entries older go).
 * Reply: how many entries went.
 */
export const trimEventsScript = redisScript({
  name: 'roTrimEvents',
  keys: ['events'],
  args: ['minId'],
  lua: `
if ARGV[1] == '0-0' then return 0 end
local newest = redis.call('XREVRANGE', KEYS[1], '(' .. ARGV[1], '-', 'COUNT', 1)[1]
local removed = redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1])
if removed > 0 and newest then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  local last, added
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then last = info[i + 1] end
    if info[i] == 'entries-added' then added = info[i + 1] end
  end
  redis.call('XSETID', KEYS[1], last, 'ENTRIESADDED', added, 'MAXDELETEDID', newest[1])
end
return removed
`,
  reply: (raw) => Number(raw)
})
