-- presence_add.lua: add or refresh one connection in a channel's presence.
--
-- KEYS[1]  presence hash: client id -> entry (JSON header, "\n", info bytes)
-- KEYS[2]  presence sorted set: client id -> expiry time in ms (broker clock)
-- ARGV[1]  client id
-- ARGV[2]  entry
-- ARGV[3]  expiry time in ms (broker clock; reads compare against it)
-- ARGV[4]  ttl in ms: real key expiry, only for garbage collection
-- Returns 1.

redis.call("HSET", KEYS[1], ARGV[1], ARGV[2])
redis.call("ZADD", KEYS[2], ARGV[3], ARGV[1])
local ttl = tonumber(ARGV[4])
for _, key in ipairs(KEYS) do
  if redis.call("PTTL", key) < ttl then
    redis.call("PEXPIRE", key, ttl)
  end
end
return 1
