-- Shared by acquire and release: reap expired leases (counted for the metric) and dead
-- waiters (so a crashed waiter never blocks the line for longer than its TTL).
-- KEYS: leases, expired, waiters, waiters:ttl, ticket, fences.
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms_whole)
if #gone > 0 then
  redis.call('INCRBY', KEYS[2], redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms_whole))
  redis.call('HDEL', KEYS[6], unpack(gone))
end
for _, w in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now_ms_whole)) do
  redis.call('ZREM', KEYS[3], w)
  redis.call('ZREM', KEYS[4], w)
end
local function wake(n, prefix, ttl)
  if n <= 0 then return end
  for _, w in ipairs(redis.call('ZRANGE', KEYS[3], 0, n - 1)) do
    local k = prefix .. w
    -- one pending wake-up is enough; more would only cause empty re-checks
    if redis.call('LLEN', k) == 0 then
      redis.call('RPUSH', k, 1)
      redis.call('PEXPIRE', k, ttl)
    end
  end
end
