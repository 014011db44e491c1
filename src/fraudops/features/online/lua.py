"""The Redis store's per-transaction Lua script (generated per layout); the index and
label scripts are in :mod:`.redis_index`."""

from __future__ import annotations

from fraudops.features.online.layout import StoreLayout
from fraudops.features.online.redis_index import INDEX_LUA, index_exchange_lua
from fraudops.features.online.times import US_PER_DAY

# Counts-only entities (terminals, merchants) keep their transaction times in buckets of
# this length: reading a window's count touches its two edge buckets, whatever the volume.
BUCKET_US = US_PER_DAY


def exchange_lua(layout: StoreLayout, index_buckets: int) -> str:
    """The per-transaction script for one layout, with its constants written in.

    KEYS: per entity its entries (a packed value, :mod:`.packed`, for an entity with
    per-transaction features; else a hash of day buckets, see ``TIMES_LUA``) and its fraud
    hash when it tracks frauds, then the index's day list (:mod:`.redis_index`; the
    script builds the name of the transaction's index hash) and the pending-label key.
    ARGV: ts (µs), tx_id, index value, then one member per entity (the new row's packed
    numbers and flags then its strings, each ended by ``\x1f``; or the transaction id). The
    reply is flat strings (known flag, then per entity: packed value or '', rows to skip or
    counts, frauds), cheap to parse on the client. Times are integers below 2**53,
    exact as Lua numbers; ``string.format('%d')`` writes them back without rounding.
    """
    packed = any(entity.entries for entity in layout.entities)
    counted = not all(entity.entries for entity in layout.entities)
    index_lookup, index_write = index_exchange_lua(layout, index_buckets)
    lines = [
        INDEX_LUA,
        *([PACKED_LUA] if packed else []),
        *([TIMES_LUA.replace("BUCKET_US", str(BUCKET_US))] if counted else []),
        "local t = tonumber(ARGV[1])",
        "local ts = ARGV[1]",
        "local tx_id = ARGV[2]",
        "local RS = '\\30'",
        "local pending_key = KEYS[#KEYS]",
        *index_lookup,
        "local out = {tostring(known)}",
        "local parts, all, limit",
    ]
    writes = []
    k = 1
    for e, entity in enumerate(layout.entities):
        entries_key = f"KEYS[{k}]"
        k += 1
        fraud_key = None
        if entity.frauds:
            fraud_key = f"KEYS[{k}]"
            k += 1
        lines.append(f"limit = t - {entity.retention_us}")
        if entity.entries:  # one packed value: the reply carries it and the rows to skip
            lines += [
                f"local packed{e}, drop{e} = packed_read({entries_key}, limit)",
                f"out[#out + 1] = packed{e}",
                f"out[#out + 1] = tostring(drop{e})",
            ]
        else:  # times in day buckets: counted where they are
            offsets = sorted({offset for rng in entity.count_ranges for offset in rng})
            lines += [
                f"local dir{e}, cache{e} = times_open({entries_key}, limit)",
                "local upto = {}",
                *[
                    f"upto[{offset}] = times_upto({entries_key}, dir{e}, cache{e}, t - {offset})"
                    for offset in offsets
                ],
                "out[#out + 1] = ''",
                "parts = {}",
                *[f"parts[#parts + 1] = upto[{hi}] - upto[{lo}]" for lo, hi in entity.count_ranges],
                "out[#out + 1] = table.concat(parts, ',')",
            ]
        if fraud_key:
            lines += [
                "parts = {}",
                f"all = redis.call('HGETALL', {fraud_key})",
                "for i = 1, #all, 2 do",
                "  local value = all[i + 1]",
                "  local sep = string.find(value, ':', 1, true)",
                "  if tonumber(string.sub(value, 1, sep - 1)) <= limit then",
                f"    redis.call('HDEL', {fraud_key}, all[i])",
                "  else",
                "    parts[#parts + 1] = value",
                "  end",
                "end",
                "out[#out + 1] = table.concat(parts, RS)",
            ]
        else:
            lines.append("out[#out + 1] = ''")
        ttl = entity.retention_us // 1000 + 1
        if entity.entries:
            kinds = entity.kinds
            shape = ", ".join(str(kinds.count(kind)) for kind in ("float", "str", "flag"))
            writes.append(
                f"  packed_write({entries_key}, packed{e}, drop{e}, t, ARGV[{4 + e}], "
                f"{shape}, {ttl})"
            )
        else:
            writes.append(f"  times_write({entries_key}, dir{e}, cache{e}, t, {ttl})")
        if fraud_key:
            writes += [
                "  if known_at then",
                f"    redis.call('HSET', {fraud_key}, tx_id, ts .. ':' .. known_at)",
                f"    redis.call('PEXPIRE', {fraud_key}, {ttl})",
                "  end",
            ]
    lines += [
        "if known == 0 then",
        "  local pending = redis.call('GET', pending_key)",
        "  local known_at = false",
        "  if pending then",
        "    known_at = pending",
        "    if tonumber(pending) < t then known_at = ts end",
        "    redis.call('DEL', pending_key)",
        "  end",
        *writes,
        *index_write,
        "end",
        "return out",
    ]
    return "\n".join(lines) + "\n"


# Packed entries (see :mod:`.packed`) edited in place: read gives the value and the rows to
# skip (they left the longest window); write drops those, inserts the new row in time
# order, gives its strings table positions (adding new values), widens 16-bit codes when a
# table outgrows them, and compacts the table once it has grown by half.
PACKED_LUA = r"""
local HEADER = 9
local function ts_at(v, i) return (struct.unpack('<i8', v, HEADER + 1 + 8 * i)) end
local function upto(v, rows, limit)
  local lo, hi = 0, rows
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if ts_at(v, mid) <= limit then lo = mid + 1 else hi = mid end
  end
  return lo
end
local function packed_read(key, limit)
  local v = redis.call('GET', key)
  if not v then return '', 0 end
  local rows = struct.unpack('<I4', v)
  if rows > 0 and ts_at(v, 0) <= limit then return v, upto(v, rows, limit) end
  return v, 0
end
local function block_sizes(nf, ns, ng, width)
  local sizes = {8}
  for _ = 1, nf do sizes[#sizes + 1] = 8 end
  for _ = 1, ns do sizes[#sizes + 1] = width end
  for _ = 1, ng do sizes[#sizes + 1] = 1 end
  return sizes
end
local function packed_write(key, v, drop, t, member, nf, ns, ng, ttl)
  local rows, climit, width = 0, 16, 2
  if v ~= '' then rows, climit, width = struct.unpack('<I4I4B', v) end
  local codes_at = HEADER + 8 * rows * (1 + nf)
  local table_at = codes_at + width * rows * ns + rows * ng
  local values, position, n = {}, {}, 0
  local s = table_at + 1
  while true do
    local e = string.find(v, '\31', s, true)
    if not e then break end
    n = n + 1
    values[n] = string.sub(v, s, e - 1)
    position[values[n]] = n
    s = e + 1
  end
  local codes, p, widest = {}, 8 * nf + ng + 1, 0
  for i = 1, ns do
    local e = string.find(member, '\31', p, true)
    local value = string.sub(member, p, e - 1)
    p = e + 1
    local c = 0
    if value ~= '\0' then
      c = position[value]
      if not c then
        n = n + 1
        values[n] = value
        position[value] = n
        c = n
      end
    end
    codes[i] = c
    if c > widest then widest = c end
  end
  if width == 2 and widest > 65535 then
    local wide = {}
    for k = 0, rows * ns - 1 do
      wide[#wide + 1] = struct.pack('<I4', (struct.unpack('<I2', v, codes_at + 1 + 2 * k)))
    end
    v = struct.pack('<I4I4B', rows, climit, 4) .. string.sub(v, HEADER + 1, codes_at)
      .. table.concat(wide) .. string.sub(v, codes_at + 2 * rows * ns + 1)
    width = 4
  end
  local code_format = width == 2 and '<I2' or '<I4'
  local at = rows
  if rows > 0 and ts_at(v, rows - 1) > t then at = upto(v, rows, t) end
  if at < drop then at = drop end
  local new = {struct.pack('<i8', t)}
  for i = 1, nf do new[#new + 1] = string.sub(member, 8 * i - 7, 8 * i) end
  for i = 1, ns do new[#new + 1] = struct.pack(code_format, codes[i]) end
  for i = 1, ng do new[#new + 1] = string.sub(member, 8 * nf + i, 8 * nf + i) end
  local out = {}
  local offset = HEADER
  for k, size in ipairs(block_sizes(nf, ns, ng, width)) do
    out[#out + 1] = string.sub(v, offset + size * drop + 1, offset + size * at)
    out[#out + 1] = new[k]
    out[#out + 1] = string.sub(v, offset + size * at + 1, offset + size * rows)
    offset = offset + size * rows
  end
  rows = rows - drop + 1
  local body = table.concat(out)
  if n + 1 >= climit then
    local start = 8 * rows * (1 + nf)
    local used = {}
    for k = 0, rows * ns - 1 do
      used[(struct.unpack(code_format, body, start + 1 + width * k))] = true
    end
    local renumber, kept = {}, {}
    for c = 1, n do
      if used[c] then
        kept[#kept + 1] = values[c]
        renumber[c] = #kept
      end
    end
    local recoded = {}
    for k = 0, rows * ns - 1 do
      local c = struct.unpack(code_format, body, start + 1 + width * k)
      recoded[#recoded + 1] = struct.pack(code_format, renumber[c] or 0)
    end
    body = string.sub(body, 1, start) .. table.concat(recoded)
      .. string.sub(body, start + width * rows * ns + 1)
    values, n = kept, #kept
    climit = math.max(16, (n + 1) + math.floor((n + 1) / 2))
  end
  local tail = {}
  for c = 1, n do tail[c] = values[c] .. '\31' end
  local header = struct.pack('<I4I4B', rows, climit, width)
  redis.call('SET', key, header .. body .. table.concat(tail), 'PX', ttl)
end
"""


# Counts-only entities: a hash whose field "c" lists the live buckets (int32 bucket number,
# uint32 count, sorted) and whose field "<bucket number>" holds that bucket's sorted int64
# times. Counting the entries at or before x adds the counts of earlier buckets (prefix
# sums, made once per call) and bisects x's own bucket; buckets wholly before the longest
# window are deleted (entries of the edge bucket that left it cancel out of every window's
# count). A call reads every count before its one write: the write edits the listing in
# place (one count, or one new bucket) and appends an in-order time without a search.
TIMES_LUA = r"""
local BUCKET = BUCKET_US
local function bucket_of(x) return math.floor(x / BUCKET) end
local function bisect_times(v, x)
  local lo, hi = 0, #v / 8
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if struct.unpack('<i8', v, 8 * mid + 1) <= x then lo = mid + 1 else hi = mid end
  end
  return lo
end
local function times_open(key, limit)
  local c = redis.call('HGET', key, 'c') or ''
  local first = bucket_of(limit)
  local bs, ns, cum, skip = {}, {}, {0}, 0
  for i = 1, #c, 8 do
    local b, n = struct.unpack('<i4I4', c, i)
    if b < first then  -- sorted: the buckets that left the window are a prefix
      redis.call('HDEL', key, tostring(b))
      skip = i + 7
    else
      local k = #bs + 1
      bs[k], ns[k], cum[k + 1] = b, n, cum[k] + n
    end
  end
  if skip > 0 then
    c = string.sub(c, skip + 1)
    redis.call('HSET', key, 'c', c)
  end
  return {bs = bs, ns = ns, cum = cum, c = c}, {}
end
local function bucket_value(key, cache, b)
  local v = cache[b]
  if v == nil then
    v = redis.call('HGET', key, tostring(b)) or ''
    cache[b] = v
  end
  return v
end
local function dir_find(dir, b)
  local bs = dir.bs
  local lo, hi = 1, #bs + 1
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if bs[mid] < b then lo = mid + 1 else hi = mid end
  end
  return lo
end
local function times_upto(key, dir, cache, x)
  local bx = bucket_of(x)
  local j = dir_find(dir, bx)
  if dir.bs[j] == bx then return dir.cum[j] + bisect_times(bucket_value(key, cache, bx), x) end
  return dir.cum[j]
end
local function times_write(key, dir, cache, t, ttl)
  local b = bucket_of(t)
  local v = bucket_value(key, cache, b)
  local rows = #v / 8
  local stamp = struct.pack('<i8', t)
  if rows == 0 or struct.unpack('<i8', v, 8 * rows - 7) <= t then
    v = v .. stamp
  else  -- a late transaction: keep time order
    local at = bisect_times(v, t)
    v = string.sub(v, 1, 8 * at) .. stamp .. string.sub(v, 8 * at + 1)
  end
  cache[b] = v
  local j, c = dir_find(dir, b), dir.c
  if dir.bs[j] == b then
    dir.ns[j] = dir.ns[j] + 1
    c = string.sub(c, 1, 8 * j - 4) .. struct.pack('<I4', dir.ns[j]) .. string.sub(c, 8 * j + 1)
  else
    table.insert(dir.bs, j, b)
    table.insert(dir.ns, j, 1)
    c = string.sub(c, 1, 8 * j - 8) .. struct.pack('<i4I4', b, 1) .. string.sub(c, 8 * j - 7)
  end
  dir.c = c
  redis.call('HSET', key, tostring(b), v, 'c', c)
  redis.call('PEXPIRE', key, ttl)
end
"""
