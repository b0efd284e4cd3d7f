-- KEYS: state, win, probe. ARGV: cooldown_s, probe_ttl_ms, token.
-- Returns 1 if the call may go out, else 0.
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'open' then return 1 end
local opened_at = tonumber(redis.call('HGET', KEYS[1], 'opened_at') or '0')
if now_s < opened_at + tonumber(ARGV[1]) then return 0 end
if redis.call('SET', KEYS[3], ARGV[3], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
