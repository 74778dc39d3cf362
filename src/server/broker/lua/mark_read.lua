-- mark_read.lua: record read marks for one user, bounded by age and count.
--
-- KEYS[1]  read-mark sorted set: notification id -> expiry time in ms (broker clock)
-- ARGV[1]  now in ms (broker clock)
-- ARGV[2]  expiry time in ms for these marks
-- ARGV[3]  most marks kept per user (the oldest beyond it are dropped)
-- ARGV[4]  ttl in ms for the real key expiry (garbage collection)
-- ARGV[5..] notification ids
-- Returns the ids that were not marked before (each once).

redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", ARGV[1])
local new = {}
for i = 5, #ARGV do
  if redis.call("ZADD", KEYS[1], ARGV[2], ARGV[i]) == 1 then
    new[#new + 1] = ARGV[i]
  end
end
local keep = tonumber(ARGV[3])
redis.call("ZREMRANGEBYRANK", KEYS[1], 0, -(keep + 1))
if redis.call("PTTL", KEYS[1]) < tonumber(ARGV[4]) then
  redis.call("PEXPIRE", KEYS[1], ARGV[4])
end
return new
