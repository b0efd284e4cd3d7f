-- Redis's clock, never a caller's: many machines with drifting clocks share this state.
local clock = redis.call('TIME')
local clock_s, clock_us = tonumber(clock[1]), tonumber(clock[2])
local now_s = clock_s + clock_us / 1000000  -- breakers: seconds
local now_ms = clock_s * 1000 + clock_us / 1000  -- token buckets: milliseconds
local now_ms_whole = clock_s * 1000 + math.floor(clock_us / 1000)  -- semaphore lease scores
