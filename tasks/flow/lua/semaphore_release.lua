-- ARGV: token, cap, wake_prefix, waiter_ms. Also withdraws a waiter. Returns 1 if it was held.
local token = ARGV[1]
local held = redis.call('ZREM', KEYS[1], token)
redis.call('HDEL', KEYS[6], token)
redis.call('ZREM', KEYS[3], token)
redis.call('ZREM', KEYS[4], token)
redis.call('DEL', ARGV[3] .. token)
wake(tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[1]), ARGV[3], ARGV[4])
return held
