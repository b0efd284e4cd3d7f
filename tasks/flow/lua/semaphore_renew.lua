-- ARGV: lease_ms, token... Extends live leases only; returns the tokens that were lost.
local lost = {}
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) > now_ms_whole then
    redis.call('ZADD', KEYS[1], 'XX', now_ms_whole + tonumber(ARGV[1]), ARGV[i])
  else
    if score then  -- expired but not yet reaped: reap it here, never resurrect it
      redis.call('ZREM', KEYS[1], ARGV[i])
      redis.call('INCR', KEYS[2])
    end
    redis.call('HDEL', KEYS[6], ARGV[i])
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
