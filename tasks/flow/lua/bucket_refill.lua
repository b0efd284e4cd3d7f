-- Shared by take and correct: refill continuously up to the capacity, which is per_minute
-- itself so a quiet minute can be spent in one burst. A missing bucket is a full one, so
-- expiring idle buckets loses nothing.
-- KEYS: bucket hash. ARGV[1]: per_minute.
local cap = tonumber(ARGV[1])
local rate = cap / 60000
local state = redis.call('HMGET', KEYS[1], 'level', 'ts')
local level = tonumber(state[1]) or cap
local ts = tonumber(state[2]) or now_ms
level = math.min(cap, level + math.max(0, now_ms - ts) * rate)
local function save()
  redis.call('HSET', KEYS[1], 'level', level, 'ts', now_ms)
  redis.call('PEXPIRE', KEYS[1], math.ceil((cap - level) / rate) + 1000)
end
