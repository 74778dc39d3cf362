-- kv_delete.lua: delete a value, unconditionally or only if it equals an expected value.
--
-- KEYS[1]  value hash: v = value, x = expiry time in ms ("0" = none)
-- ARGV[1]  mode: "del" (always) or "cad" (only if value == ARGV[3])
-- ARGV[2]  now in ms (broker clock)
-- ARGV[3]  expected value (mode "cad")
-- Returns 1 when a live value was deleted, else 0.

local r = redis.call("HMGET", KEYS[1], "v", "x")
local live = r[1] and (r[2] == "0" or tonumber(r[2]) > tonumber(ARGV[2]))
if not live then
  redis.call("DEL", KEYS[1])
  return 0
end
if ARGV[1] == "cad" and r[1] ~= ARGV[3] then
  return 0
end
redis.call("DEL", KEYS[1])
return 1
