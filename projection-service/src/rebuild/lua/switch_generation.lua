-- Makes a rebuilt generation live, in one step, but only when no live delivery can be lost:
-- every event any script applied to the live generation (its high-water mark) must be at or
-- below the new generation's checkpoint (everything up to which it holds).
--
-- KEYS: 1 generation pointer, 2 new generation's checkpoint, 3 live generation's high water,
--       4 new generation's high water (set to its checkpoint: its event scripts did not move it).
-- ARGV: 1 the live generation the rebuild started from, 2 the new generation, 3 channel.
-- Returns 1 switched, 0 not yet (read further and try again), -1 the pointer moved meanwhile.

local live = redis.call('GET', KEYS[1]) or 'g0'
if live ~= ARGV[1] then return -1 end
local checkpoint_text = redis.call('GET', KEYS[2]) or '0'
local checkpoint = tonumber(checkpoint_text)
local high_water = tonumber(redis.call('GET', KEYS[3]) or '0')
if checkpoint < high_water then return 0 end
redis.call('SET', KEYS[4], checkpoint_text)
redis.call('SET', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[2] .. ' ' .. checkpoint_text)
return 1
