-- Releases the rebuild lease if this rebuild still holds it.
-- KEYS: 1 lock. ARGV: 1 holder token. Returns 1 released, 0 not held.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
