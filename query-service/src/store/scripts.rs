//! The Lua scripts behind every read. Each one resolves the current generation (the pointer key,
//! absent = `g0`) and reads that generation's data *and* its checkpoint in one atomic step, so
//! a rebuild's switch can never split one answer across two generations, and the checkpoint
//! returned is exactly the one the data reflects (read-your-writes checks it).
//!
//! Keys of a generation are built inside the script as `before .. generation .. after`, from
//! templates the Rust side derives from `ReadModelKeys` (see `KeyTemplate`), so the layout
//! stays defined in one place. All keys share the namespace's hash tag (one cluster slot).
//! Every script answers `{generation, checkpoint, …}`.

use std::sync::LazyLock;

use redis::Script;
use shared_domain::read_model::GENERATION_ZERO;

/// Resolves the generation into `gen` and `checkpoint`; ARGV[1], ARGV[2] = checkpoint template.
static PRELUDE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "
local gen = redis.call('GET', KEYS[1]) or '{GENERATION_ZERO}'
local checkpoint = redis.call('GET', ARGV[1] .. gen .. ARGV[2]) or '0'
"
    )
});

/// One order: ARGV[3], ARGV[4] = summary key template. Answers `{gen, checkpoint, {field,
/// value, …}}` (the summary hash; empty when there is no such order).
pub static ORDER: LazyLock<Script> = LazyLock::new(|| {
    let prelude = &*PRELUDE;
    Script::new(&format!(
        "{prelude}
return {{gen, checkpoint, redis.call('HGETALL', ARGV[3] .. gen .. ARGV[4])}}
"
    ))
});

/// Only the checkpoint: answers `{gen, checkpoint}`.
pub static CHECKPOINT: LazyLock<Script> = LazyLock::new(|| {
    let prelude = &*PRELUDE;
    Script::new(&format!(
        "{prelude}
return {{gen, checkpoint}}
"
    ))
});

/// The analytics hash: ARGV[3], ARGV[4] = its key template. Answers
/// `{gen, checkpoint, {field, value, …}}`.
pub static ANALYTICS: LazyLock<Script> = LazyLock::new(|| {
    let prelude = &*PRELUDE;
    Script::new(&format!(
        "{prelude}
return {{gen, checkpoint, redis.call('HGETALL', ARGV[3] .. gen .. ARGV[4])}}
"
    ))
});

/// The newest-first index walk both page scripts begin with: leaves in `found` up to
/// `limit + 1` index entries `id, score, …` after the cursor, and their count up to `limit` in
/// `count`.
///
/// ARGV[3], ARGV[4]: index key template; ARGV[7]: page size `limit`; ARGV[8], ARGV[9]: the
/// cursor's score and order id, or two empty strings for the first page.
///
/// Takes up to `limit + 1` ids (the extra one only says whether a next page exists). Equal
/// scores (which the layout never produces: each order has its own `order.placed` position) are
/// still handled exactly: Redis orders them by member bytes, so after a cursor (s, id) come the
/// members with score s that are bytewise below id, then everything below s. Members are
/// compared bytewise here too (`<` on Lua strings would follow the server's locale).
const WALK: &str = "
local index = ARGV[3] .. gen .. ARGV[4]
local limit = tonumber(ARGV[7])
local want = limit + 1
local found = {}

local function bytes_below(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local function take(reply)
  for i = 1, #reply, 2 do
    if #found >= want * 2 then return end
    found[#found + 1] = reply[i]
    found[#found + 1] = reply[i + 1]
  end
end

if ARGV[8] == '' then
  take(redis.call('ZRANGE', index, '+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, want, 'WITHSCORES'))
else
  local score, id = ARGV[8], ARGV[9]
  local ties = redis.call('ZRANGE', index, score, score, 'BYSCORE')
  for i = #ties, 1, -1 do
    if #found < want * 2 and bytes_below(ties[i], id) then
      found[#found + 1] = ties[i]
      found[#found + 1] = score
    end
  end
  local missing = want - #found / 2
  if missing > 0 then
    take(redis.call('ZRANGE', index, '(' .. score, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, missing, 'WITHSCORES'))
  end
end

local count = math.min(#found / 2, limit)
";

/// One page of a newest-first index walk ([`WALK`]), with its summaries.
///
/// ARGV[5], ARGV[6]: summary key template *without* the order id (the id is appended);
/// ARGV[10…]: the summary's field names, the first being `orderId` (an order without it has no
/// summary).
///
/// Fetches the summaries of the first `limit` ids (`HMGET` of the named fields: half the bytes
/// of `HGETALL`), and answers `{gen, checkpoint, {id, score, …}, summaries}` where `summaries` is
/// ONE string, the JSON array `[[value|null, …] | null, …]` (values in field-name order; `null`
/// for a missing summary). One JSON string instead of a nested reply of ~700 bulk strings per
/// page of 50: Redis's C `cjson` writes it about as fast as the nested reply, and the service
/// parses it several times faster than redis-rs parses RESP (perf: the RESP parser dominated
/// the page).
pub static PAGE: LazyLock<Script> = LazyLock::new(|| {
    let prelude = &*PRELUDE;
    Script::new(&format!(
        "{prelude}{WALK}
if count == 0 then
  return {{gen, checkpoint, found, '[]'}}
end
local names = {{}}
for i = 10, #ARGV do names[#names + 1] = ARGV[i] end
local summaries = {{}}
for i = 1, count do
  local values = redis.call('HMGET', ARGV[5] .. gen .. ARGV[6] .. found[2 * i - 1], unpack(names))
  if values[1] then
    for j = 1, #names do
      if not values[j] then values[j] = cjson.null end
    end
    summaries[i] = values
  else
    summaries[i] = cjson.null
  end
end
return {{gen, checkpoint, found, cjson.encode(summaries)}}
"
    ))
});

/// One page of a newest-first index walk ([`WALK`]) with only its orders' revisions, for a
/// service that holds the summaries themselves ([`super::cache`]).
///
/// ARGV[5], ARGV[6]: summary key template without the order id; ARGV[10]: the revision field.
/// Answers `{gen, checkpoint, {id, score, …}, revisions}` where `revisions` is ONE string, the
/// first `limit` ids' revisions joined by `,` (empty for an order without a summary).
pub static PAGE_REVISIONS: LazyLock<Script> = LazyLock::new(|| {
    let prelude = &*PRELUDE;
    Script::new(&format!(
        "{prelude}{WALK}
local revisions = {{}}
for i = 1, count do
  revisions[i] = redis.call('HGET', ARGV[5] .. gen .. ARGV[6] .. found[2 * i - 1], ARGV[10]) or ''
end
return {{gen, checkpoint, found, table.concat(revisions, ',')}}
"
    ))
});
