-- Moves a generation's checkpoint forward (never back) once a whole batch is in, and announces
-- the move on the checkpoint channel as "<generation> <position>".
--
-- KEYS: 1 the generation's checkpoint.
-- ARGV: 1 candidate position, 2 channel, 3 generation name.
-- Returns the checkpoint after the call.

local candidate = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if candidate > current then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3] .. ' ' .. ARGV[1])
  return candidate
end
return current
