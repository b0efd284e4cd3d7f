-- ARGV[2]: tokens to give back (negative: to deduct). Returns the new level, floored.
level = math.min(cap, level + tonumber(ARGV[2]))
save()
return math.floor(level)
