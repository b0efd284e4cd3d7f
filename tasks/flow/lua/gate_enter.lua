-- The call gate's way in, in one round trip: the breaker, then the bucket, then the line.
-- KEYS: breaker state, win, probe; bucket; semaphore leases, expired, waiters, waiters:ttl,
-- ticket, fences. ARGV: cooldown_s, probe_ttl_ms, probe token; per_minute, tokens;
-- slot token, cap, lease_ms, waiter_ms, wake_prefix.
-- Returns {stage, probe, n}: stage 0 refused, 1 bucket short (n: ms until the tokens fit),
-- 2 in line (tokens taken), 3 granted (n: the fence); probe 1 if it claimed the probe.
if breaker_allow({KEYS[1], KEYS[2], KEYS[3]}, {ARGV[1], ARGV[2], ARGV[3]}) == 0 then
  return {0, 0, 0}
end
-- a closed breaker has no probe key, so only a claim made just now can hold this token
local probe = 0
if redis.call('GET', KEYS[3]) == ARGV[3] then probe = 1 end
if tonumber(ARGV[5]) > 0 then  -- like the bucket's client: nothing to take, no round trip
  local wait_ms = bucket_take({KEYS[4]}, {ARGV[4], ARGV[5]})
  if wait_ms > 0 then return {1, probe, wait_ms} end
end
local fence = semaphore_acquire({unpack(KEYS, 5, 10)}, {unpack(ARGV, 6, 10)})
if fence == 0 then return {2, probe, 0} end
return {3, probe, fence}
