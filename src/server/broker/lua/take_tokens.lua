-- take_tokens.lua: take up to N tokens from a token bucket kept as a key-value entry, in one step.
--
-- The entry has kv_set.lua's layout, so processes that still update the bucket with
-- kv_get + kv_compare_and_set share it: value "<tokens> <updated>" (seconds, 6 decimals).
-- KEYS[1]  value hash: v = value, x = expiry time in ms ("0" = none)
-- ARGV[1]  now in ms (broker clock)
-- ARGV[2]  now in seconds (broker clock, as written into the value)
-- ARGV[3]  tokens wanted
-- ARGV[4]  refill rate, tokens per second
-- ARGV[5]  burst (bucket size)
-- ARGV[6]  ttl in ms of the entry
-- Returns {tokens taken, seconds to wait (a string) when none were}.

local r = redis.call("HMGET", KEYS[1], "v", "x")
local now_ms = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local rate = tonumber(ARGV[4])
local burst = tonumber(ARGV[5])
local tokens = burst
if r[1] and (r[2] == "0" or tonumber(r[2]) > now_ms) then
  local stored, updated = string.match(r[1], "^(%S+) (%S+)$")
  if stored then
    tokens = math.min(burst, tonumber(stored) + math.max(0, now - tonumber(updated)) * rate)
  end
end
local take = math.min(tonumber(ARGV[3]), math.floor(tokens + 1e-4))
if take <= 0 then
  return {0, tostring((1 - tokens) / rate)}
end
local ttl = tonumber(ARGV[6])
redis.call("DEL", KEYS[1])
redis.call("HSET", KEYS[1], "v", string.format("%.6f %.6f", tokens - take, now), "x", now_ms + ttl)
redis.call("PEXPIRE", KEYS[1], ttl + 1000)
return {take, "0"}
