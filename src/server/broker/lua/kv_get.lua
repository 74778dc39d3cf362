-- kv_get.lua: read a value unless it has expired (by the broker clock).
--
-- KEYS[1]  value hash: v = value, x = expiry time in ms ("0" = none)
-- ARGV[1]  now in ms (broker clock)
-- Returns the value, or nil when absent or expired (an expired value is deleted).

local r = redis.call("HMGET", KEYS[1], "v", "x")
if not r[1] then
  return false
end
if r[2] ~= "0" and tonumber(r[2]) <= tonumber(ARGV[1]) then
  redis.call("DEL", KEYS[1])
  return false
end
return r[1]
