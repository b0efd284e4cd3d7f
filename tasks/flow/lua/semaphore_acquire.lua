-- ARGV: token, cap, lease_ms, waiter_ms, wake_prefix. Returns the fence (> 0) or 0 (wait).
local token, cap = ARGV[1], tonumber(ARGV[2])
local held = redis.call('HGET', KEYS[6], token)
if held and redis.call('ZSCORE', KEYS[1], token) then
  return tonumber(held)  -- a retried call whose first reply was lost: same grant
end
if not redis.call('ZSCORE', KEYS[3], token) then
  redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[5]), token)
end
redis.call('ZADD', KEYS[4], now_ms_whole + tonumber(ARGV[4]), token)
local free = cap - redis.call('ZCARD', KEYS[1])
if free <= 0 then return 0 end
if redis.call('ZRANK', KEYS[3], token) >= free then
  wake(free, ARGV[5], ARGV[4])  -- the heads own these slots; nudge them if a wake-up was lost
  return 0
end
local fence = redis.call('INCR', KEYS[5])
redis.call('ZADD', KEYS[1], now_ms_whole + tonumber(ARGV[3]), token)
redis.call('HSET', KEYS[6], token, fence)
redis.call('ZREM', KEYS[3], token)
redis.call('ZREM', KEYS[4], token)
redis.call('DEL', ARGV[5] .. token)
wake(free - 1, ARGV[5], ARGV[4])
return fence
