-- KEYS: state, win, probe. ARGV: ok (1|0), token ('' if none), failure_threshold,
-- error_rate, window_s, min_calls, cooldown_s. Returns the state after the call:
-- 'closed' or 'open'.
local ok = ARGV[1] == '1'
local state = redis.call('HGET', KEYS[1], 'state')
local function trip()
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', tostring(now_s), 'consec', 0)
  redis.call('HINCRBY', KEYS[1], 'opened_total', 1)
  redis.call('DEL', KEYS[2], KEYS[3])
  return 'open'
end
if state == 'open' then
  local opened_at = tonumber(redis.call('HGET', KEYS[1], 'opened_at') or '0')
  local probe = redis.call('GET', KEYS[3])
  local is_probe = ARGV[2] ~= '' and probe == ARGV[2]
  if not is_probe or now_s < opened_at + tonumber(ARGV[7]) then return 'open' end
  if not ok then return trip() end
  redis.call('HSET', KEYS[1], 'state', 'closed', 'consec', 0)
  redis.call('DEL', KEYS[2], KEYS[3])
  return 'closed'
end
local window = tonumber(ARGV[5])
local sec = math.floor(now_s)
redis.call('HINCRBY', KEYS[2], 'c:' .. sec, 1)
local consec = 0
if ok then
  redis.call('HSET', KEYS[1], 'consec', 0)
else
  redis.call('HINCRBY', KEYS[2], 'f:' .. sec, 1)
  consec = redis.call('HINCRBY', KEYS[1], 'consec', 1)
end
redis.call('PEXPIRE', KEYS[2], (window + 1) * 1000)
local calls, fails = 0, 0
local buckets = redis.call('HGETALL', KEYS[2])
for i = 1, #buckets, 2 do
  local field = buckets[i]
  local at = tonumber(string.sub(field, 3))
  if at <= sec - window then
    redis.call('HDEL', KEYS[2], field)
  elseif string.sub(field, 1, 1) == 'c' then
    calls = calls + tonumber(buckets[i + 1])
  else
    fails = fails + tonumber(buckets[i + 1])
  end
end
if consec >= tonumber(ARGV[3]) then return trip() end
if calls >= tonumber(ARGV[6]) and fails / calls >= tonumber(ARGV[4]) then return trip() end
return 'closed'
