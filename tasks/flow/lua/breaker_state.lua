-- KEYS: state. ARGV: cooldown_s. Returns 'closed', 'open' or 'half_open'.
if redis.call('HGET', KEYS[1], 'state') ~= 'open' then return 'closed' end
local opened_at = tonumber(redis.call('HGET', KEYS[1], 'opened_at') or '0')
if now_s < opened_at + tonumber(ARGV[1]) then return 'open' end
return 'half_open'
