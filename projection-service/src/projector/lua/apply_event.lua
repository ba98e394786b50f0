-- Applies ONE order event to ONE generation of the read models, atomically and at most once.
--
-- KEYS: 1 generation pointer, 2 order summary (hash), 3 index of all orders,
--       4..7 status indexes (pending, shipped, delivered, cancelled),
--       8 the customer's index (order.placed only; otherwise any key of the slot, unused),
--       9 analytics (hash), 10 the generation's high-water mark.
-- ARGV: 1 the generation the caller believes is live ('' = a rebuild target: no pointer check,
--         no high-water mark),
--       2 kind (placed|shipped|delivered|cancelled), 3 order id, 4 stream position,
--       5 global position, then by kind:
--       placed: 6 customer id, 7 total amount (exact decimal text), 8 item count, 9 placedAt,
--               10 number n of revenue chunks, then per chunk 4 arguments: its summary field
--               (`_amount:e-7`), its total analytics field (`revenue:e-7`), its pending
--               analytics field (`revenue:pending:e-7`) and its integer value
--       shipped: 6 tracking number, 7 carrier, 8 shippedAt
--       delivered: 6 deliveredAt
--       cancelled: 6 cancelledAt
--
-- Returns  1 applied,
--          0 duplicate (the summary's _revision already covers this stream position),
--         -1 missing predecessor (not order.placed, and the order has no summary),
--         -2 stale generation (the pointer moved: re-read it and apply again there),
--         -3 order.placed for an order that already has a summary at a lower revision.
--
-- Everything the event changes (summary, indexes, analytics) moves in this one step together
-- with `_revision`, so a duplicate, replayed or concurrent delivery can never count twice.
-- Revenue is exact: integer chunks of the amount (`read_model::revenue_chunks`) moved with
-- HINCRBY; the order keeps its chunks in `_amount:e<exponent>` fields for status changes.
--
-- Only arguments checked by the caller reach a write: a script that fails half-way keeps what
-- it wrote, so nothing below can fail after the first write.

-- The summary fields that may hold amount chunks, and their exponents (REVENUE_CHUNK_EXPONENTS).
local CHUNK_EXPONENTS = { '-28', '-21', '-14', '-7', '0', '7', '14', '21', '28' }
local CHUNK_FIELDS = {
  '_amount:e-28', '_amount:e-21', '_amount:e-14', '_amount:e-7', '_amount:e0',
  '_amount:e7', '_amount:e14', '_amount:e21', '_amount:e28',
}

local pointer, summary, all_orders = KEYS[1], KEYS[2], KEYS[3]
local by_status = {
  pending = KEYS[4], shipped = KEYS[5], delivered = KEYS[6], cancelled = KEYS[7],
}
local customer_orders, analytics, high_water = KEYS[8], KEYS[9], KEYS[10]

local expected_generation = ARGV[1]
if expected_generation ~= '' then
  local live = redis.call('GET', pointer) or 'g0'
  if live ~= expected_generation then return -2 end
end

local kind, order_id = ARGV[2], ARGV[3]
local position, global_text = tonumber(ARGV[4]), ARGV[5]

local revision = tonumber(redis.call('HGET', summary, '_revision') or '0')
if position <= revision then return 0 end

if kind == 'placed' then
  if revision > 0 then return -3 end
  local fields = {
    'orderId', order_id, 'customerId', ARGV[6], 'totalAmount', ARGV[7],
    'itemCount', ARGV[8], 'status', 'pending', 'placedAt', ARGV[9], '_revision', ARGV[4],
  }
  local chunks = tonumber(ARGV[10])
  for i = 0, chunks - 1 do
    local at = 11 + 4 * i
    fields[#fields + 1] = ARGV[at]
    fields[#fields + 1] = ARGV[at + 3]
  end
  redis.call('HSET', summary, unpack(fields))
  redis.call('ZADD', all_orders, global_text, order_id)
  redis.call('ZADD', by_status.pending, global_text, order_id)
  redis.call('ZADD', customer_orders, global_text, order_id)
  redis.call('HINCRBY', analytics, 'orders', 1)
  redis.call('HINCRBY', analytics, 'orders:pending', 1)
  for i = 0, chunks - 1 do
    local at = 11 + 4 * i
    redis.call('HINCRBY', analytics, ARGV[at + 1], ARGV[at + 3])
    redis.call('HINCRBY', analytics, ARGV[at + 2], ARGV[at + 3])
  end
else
  if revision == 0 then return -1 end
  if not by_status[kind] or kind == 'pending' then
    return redis.error_reply('unknown event kind ' .. kind)
  end
  local old_status = redis.call('HGET', summary, 'status')
  local new_status = kind
  if kind == 'shipped' then
    redis.call('HSET', summary, 'status', new_status, 'trackingNumber', ARGV[6],
      'carrier', ARGV[7], 'shippedAt', ARGV[8], '_revision', ARGV[4])
  elseif kind == 'delivered' then
    redis.call('HSET', summary, 'status', new_status, 'deliveredAt', ARGV[6],
      '_revision', ARGV[4])
  else
    redis.call('HSET', summary, 'status', new_status, 'cancelledAt', ARGV[6],
      '_revision', ARGV[4])
  end
  if old_status ~= new_status and by_status[old_status] then
    local score = redis.call('ZSCORE', all_orders, order_id)
    redis.call('ZREM', by_status[old_status], order_id)
    redis.call('ZADD', by_status[new_status], score, order_id)
    redis.call('HINCRBY', analytics, 'orders:' .. old_status, -1)
    redis.call('HINCRBY', analytics, 'orders:' .. new_status, 1)
    local chunks = redis.call('HMGET', summary, unpack(CHUNK_FIELDS))
    for i, value in ipairs(chunks) do
      if value then
        local suffix = ':e' .. CHUNK_EXPONENTS[i]
        redis.call('HINCRBY', analytics, 'revenue:' .. old_status .. suffix, -tonumber(value))
        redis.call('HINCRBY', analytics, 'revenue:' .. new_status .. suffix, value)
      end
    end
  end
end

-- The high-water mark guards a rebuild's switch away from a live generation; a generation being
-- rebuilt ('' above) gets its mark from the switch.
if expected_generation ~= '' then
  local current_high = tonumber(redis.call('GET', high_water) or '0')
  if tonumber(global_text) > current_high then
    redis.call('SET', high_water, global_text)
  end
end
return 1
