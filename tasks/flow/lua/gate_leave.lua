-- The call gate's way out, in one round trip: release the slot, correct the bucket, record.
-- KEYS: semaphore leases, expired, waiters, waiters:ttl, ticket, fences; bucket; breaker
-- state, win, probe. ARGV: slot token, cap, wake_prefix, waiter_ms; per_minute, delta
-- (0: no correction); ok ('1', '0', or '' to record nothing), probe token ('' if none),
-- failure_threshold, error_rate, window_s, min_calls, cooldown_s.
-- Returns {held (1 if the lease was still live), the breaker state after ('' if not recorded)}.
local held = semaphore_release({unpack(KEYS, 1, 6)}, {ARGV[1], ARGV[2], ARGV[3], ARGV[4]})
if tonumber(ARGV[6]) ~= 0 then bucket_correct({KEYS[7]}, {ARGV[5], ARGV[6]}) end
local state = ''
if ARGV[7] ~= '' then
  state = breaker_record({KEYS[8], KEYS[9], KEYS[10]}, {unpack(ARGV, 7, 13)})
end
return {held, state}
