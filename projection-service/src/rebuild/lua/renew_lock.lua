-- Extends the rebuild lease if this rebuild still holds it.
-- KEYS: 1 lock. ARGV: 1 holder token, 2 lease in ms. Returns 1 held, 0 lost.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
