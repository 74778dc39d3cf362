-- presence_get.lua: purge expired entries of a channel's presence and return the rest.
--
-- KEYS[1]  presence hash: client id -> entry
-- KEYS[2]  presence sorted set: client id -> expiry time in ms
-- ARGV[1]  now in ms (broker clock)
-- Returns {client id, expiry ms, entry, client id, expiry ms, entry, ...}.

local expired = redis.call("ZRANGEBYSCORE", KEYS[2], "-inf", ARGV[1])
if #expired > 0 then
  redis.call("ZREMRANGEBYSCORE", KEYS[2], "-inf", ARGV[1])
  for i = 1, #expired, 500 do
    redis.call("HDEL", KEYS[1], unpack(expired, i, math.min(i + 499, #expired)))
  end
end
local live = redis.call("ZRANGE", KEYS[2], 0, -1, "WITHSCORES")
local out = {}
for i = 1, #live, 2 do
  local entry = redis.call("HGET", KEYS[1], live[i])
  if entry then
    out[#out + 1] = live[i]
    out[#out + 1] = live[i + 1]
    out[#out + 1] = entry
  end
end
return out
