-- KEYS: leases. Returns the number of live (unexpired) leases.
return redis.call('ZCOUNT', KEYS[1], '(' .. now_ms_whole, '+inf')
