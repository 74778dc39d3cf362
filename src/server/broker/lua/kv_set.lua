-- kv_set.lua: set a value, unconditionally or under a condition.
--
-- KEYS[1]  value hash: v = value, x = expiry time in ms ("0" = none)
-- ARGV[1]  mode: "set" (always), "nx" (only if absent or expired), "cas" (only if value == ARGV[6])
-- ARGV[2]  new value
-- ARGV[3]  expiry time in ms by the broker clock ("0" = none)
-- ARGV[4]  ttl in ms for the real key expiry, garbage collection only ("0" = none)
-- ARGV[5]  now in ms (broker clock)
-- ARGV[6]  expected value (mode "cas")
-- Returns 1 when set, 0 when the condition failed.

local r = redis.call("HMGET", KEYS[1], "v", "x")
local live = r[1] and (r[2] == "0" or tonumber(r[2]) > tonumber(ARGV[5]))
if ARGV[1] == "nx" and live then
  return 0
end
if ARGV[1] == "cas" and (not live or r[1] ~= ARGV[6]) then
  return 0
end
redis.call("DEL", KEYS[1])
redis.call("HSET", KEYS[1], "v", ARGV[2], "x", ARGV[3])
if ARGV[4] ~= "0" then
  redis.call("PEXPIRE", KEYS[1], ARGV[4])
end
return 1
