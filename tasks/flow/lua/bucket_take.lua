-- ARGV[2]: tokens. Returns 0 when taken, else the milliseconds until they would fit.
local want = tonumber(ARGV[2])
-- more than the capacity passes once the bucket is full (and leaves it in debt),
-- otherwise such a request could never be served
if want <= level or level >= cap then
  level = level - want
  save()
  return 0
end
save()
return math.max(1, math.ceil((math.min(want, cap) - level) / rate))
