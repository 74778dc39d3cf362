-- publish.lua: append one publication to a channel's history and broadcast it,
-- in one atomic step (offsets have no gaps; subscribers see them in order).
--
-- KEYS[1]  channel meta hash: e = epoch, o = last offset, t = history ttl (ms)
-- KEYS[2]  channel history stream; entry id "<offset>-0", field p = payload
-- KEYS[3]  idempotency key (only read/written when ARGV[6] ~= "0")
-- ARGV[1]  pub/sub channel to PUBLISH on
-- ARGV[2]  payload: header JSON, "\n", data bytes
-- ARGV[3]  history size (0 = keep no history, still number and broadcast)
-- ARGV[4]  history ttl in ms (expiry of meta and stream, refreshed by each publish)
-- ARGV[5]  epoch to start if the channel has none (hex, no ':')
-- ARGV[6]  idempotency ttl in ms ("0" = no idempotency key)
-- Returns {epoch, offset, duplicate (0 or 1)}.
-- The pub/sub message is "<epoch>:<offset>:<payload>".

if ARGV[6] ~= "0" then
  local seen = redis.call("GET", KEYS[3])
  if seen then
    local sep = string.find(seen, ":", 1, true)
    return {string.sub(seen, 1, sep - 1), tonumber(string.sub(seen, sep + 1)), 1}
  end
end

local epoch = redis.call("HGET", KEYS[1], "e")
if not epoch then
  -- New epoch: any stream left behind belongs to a lost epoch.
  epoch = ARGV[5]
  redis.call("DEL", KEYS[2])
  redis.call("HSET", KEYS[1], "e", epoch)
end
local offset = redis.call("HINCRBY", KEYS[1], "o", 1)
redis.call("HSET", KEYS[1], "t", ARGV[4])
redis.call("PEXPIRE", KEYS[1], ARGV[4])

local size = tonumber(ARGV[3])
if size > 0 then
  redis.call("XADD", KEYS[2], "MAXLEN", size, offset .. "-0", "p", ARGV[2])
  redis.call("PEXPIRE", KEYS[2], ARGV[4])
else
  redis.call("DEL", KEYS[2])
end

redis.call("PUBLISH", ARGV[1], epoch .. ":" .. offset .. ":" .. ARGV[2])
if ARGV[6] ~= "0" then
  redis.call("SET", KEYS[3], epoch .. ":" .. offset, "PX", ARGV[6])
end
return {epoch, offset, 0}
