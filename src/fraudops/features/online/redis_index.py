"""The Redis store's transaction-id index: which transactions it holds, with their time and
the keys of the entities whose frauds it tracks (a fraud label carries only the id).

Ids are kept in small hashes, one per UTC day of the transaction's time and per bucket of
ids, ``<ns>idx:<day>:<bucket>``: field 8 bytes of the id's SHA-1 (bytes 5-12; the bucket is
bytes 1-4 modulo the day's bucket count), value 5 bytes of microseconds since the day's
start then the fraud-tracking entity keys separated by ``\\x1f``. Kept well under the server's
``hash-max-listpack-entries`` (512 by default) and ``hash-max-listpack-value`` (64 bytes),
a hash is one listpack: ~2 bytes of overhead per field and value instead of a key, an
object and a dict entry per transaction. A whole day's hashes expire together, the
retention plus one day after the day ends. The entity keys must stay short: past 64 bytes
of value (59 bytes of keys and separators) the server keeps that hash as a hashtable.

Why a fingerprint, not the id: the field costs 10 bytes whatever the id's length (an id
is often a 36-character UUID; one longer than ``hash-max-listpack-value`` would turn its
whole hash into a hashtable). Two ids collide only if they share a day, a bucket and 64
bits of SHA-1: about (ids in the hash) / 2**64 per transaction, ~4e-18 at 64 ids a hash,
~4e-9 a year at a billion transactions a year. A collision would make a new transaction
look like a retry (scored, not added) or give a label to the other transaction; the fraud
entries themselves keep the exact id.

``<ns>idx:days`` lists the days the index holds (field: day number, value: that day's
bucket count, fixed when the day is first listed, so every replica agrees), and
``<ns>idx:count`` their id counts, which size the next day. A retry carries its
transaction's time, so the per-transaction script checks one hash; a label probes every
listed day (one ``HGET`` each) in one script call. Days older than the index retention
plus two days before a newly listed day leave the list (event time, like the rest of the
state).
"""

from __future__ import annotations

import hashlib
import math
import struct

from fraudops.features.online.layout import StoreLayout
from fraudops.features.online.times import US_PER_DAY

# Sizing: a day's ids spread over its buckets; the mean must stay well under the server's
# hash-max-listpack-entries (512 by default) for peak days to stay compact, and about 64
# ids a hash costs least per id (fewer leave the key and the allocator's rounding to fewer
# ids; more make each lookup scan more). A new day gets one bucket per 64 ids of the
# busiest day held (a bulk load: per 64 ids of the day loaded); only the first day of an
# empty index uses the configured count (1,024: ~65,000 ids a day, listpacks up to
# ~300,000).
DEFAULT_INDEX_BUCKETS = 1024
IDS_PER_BUCKET = 64
CROWDED_BUCKET = 256  # ids a hash past which a day's hashes near the listpack limit
_OFFSET = struct.Struct("<Q")  # microseconds since the day's start: 5 bytes kept (< 2**37)
OFFSET_BYTES = 5


def index_slot(tx_id: str, buckets: int) -> tuple[int, bytes]:
    """A transaction id's bucket and field, as the scripts compute them with
    ``redis.sha1hex`` (a spread and a fingerprint, not a security use)."""
    digest = hashlib.sha1(tx_id.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "big") % buckets, digest[4:12]


def index_value(t: int, keys: list[str]) -> bytes:
    """An index entry: the time within its day, then the fraud-tracking entity keys."""
    offset = _OFFSET.pack(t % US_PER_DAY)[:OFFSET_BYTES]
    return offset + "\x1f".join(keys).encode()


def keep_days(layout: StoreLayout) -> int:
    """Days the index lists before the newest one."""
    return math.ceil(layout.index_retention_us / US_PER_DAY) + 2


def kept_after_day_ms(layout: StoreLayout) -> int:
    """How long a day's hashes outlive the day: the retention plus one day."""
    return (layout.index_retention_us + US_PER_DAY) // 1000


def day_ttl_ms(layout: StoreLayout, day: int, now_us: int) -> int:
    """A day's hashes live until ``kept_after_day_ms`` after the day's end."""
    return ((day + 1) * US_PER_DAY - now_us) // 1000 + kept_after_day_ms(layout)


# Shared by the scripts: the day and bucket of an id, a lookup over every listed day, and
# an entry's time and keys.
INDEX_LUA = r"""
local DAY = US_PER_DAY
local function index_hash(tx_id)
  local hex = redis.sha1hex(tx_id)
  local field = {}
  for i = 9, 23, 2 do field[#field + 1] = string.char(tonumber(string.sub(hex, i, i + 1), 16)) end
  return tonumber(string.sub(hex, 1, 8), 16), table.concat(field)
end
local function index_find(days_key, tx_id)
  local prefix = string.sub(days_key, 1, -5)
  local days = redis.call('HGETALL', days_key)
  local h, field = index_hash(tx_id)
  local found, found_day = nil, nil
  for i = 1, #days, 2 do
    local day = tonumber(days[i])
    if not found_day or day > found_day then
      local v = redis.call('HGET', prefix .. days[i] .. ':' .. (h % tonumber(days[i + 1])), field)
      if v then found, found_day = v, day end
    end
  end
  return found, found_day
end
local function index_time(value, day)
  return day * DAY + struct.unpack('<I5', value)
end
local function index_keys(value)
  local keys, s = {}, 6
  while true do
    local e = string.find(value, '\31', s, true)
    if not e then
      keys[#keys + 1] = string.sub(value, s)
      return keys
    end
    keys[#keys + 1] = string.sub(value, s, e - 1)
    s = e + 1
  end
end
""".replace("US_PER_DAY", str(US_PER_DAY))


def index_exchange_lua(layout: StoreLayout, buckets: int) -> tuple[list[str], list[str]]:
    """The per-transaction script's index part: its lookup (sets ``known`` and
    ``index_key``) and its write (the new entry, and the day listed when new)."""
    keep = keep_days(layout)
    lookup = [
        "local days_key = KEYS[#KEYS - 1]",
        "local count_key = string.sub(days_key, 1, -5) .. 'count'",
        "local day = math.floor(t / DAY)",
        "local day_buckets = redis.call('HGET', days_key, day)",
        "local new_day = not day_buckets",
        "if new_day then",  # sized for the busiest day held, else the configured count
        "  local busiest = 0",
        "  for _, n in ipairs(redis.call('HVALS', count_key)) do",
        "    if tonumber(n) > busiest then busiest = tonumber(n) end",
        "  end",
        f"  day_buckets = {buckets}",
        f"  if busiest > 0 then day_buckets = math.ceil(busiest / {IDS_PER_BUCKET}) end",
        "end",
        "local index_h, index_field = index_hash(tx_id)",
        "local index_key = string.sub(days_key, 1, -5) .. day .. ':' .. "
        "(index_h % tonumber(day_buckets))",
        "local known = 0",
        "if not new_day then known = redis.call('HEXISTS', index_key, index_field) end",
    ]
    write = [
        "  if new_day then",
        "    redis.call('HSET', days_key, day, day_buckets)",
        "    local listed = redis.call('HKEYS', days_key)",
        "    for _, d in ipairs(listed) do",
        f"      if tonumber(d) < day - {keep} then",
        "        redis.call('HDEL', days_key, d)",
        "        redis.call('HDEL', count_key, d)",
        "      end",
        "    end",
        f"    redis.call('PEXPIRE', days_key, {keep * US_PER_DAY // 1000})",
        f"    redis.call('PEXPIRE', count_key, {keep * US_PER_DAY // 1000})",
        "  end",
        "  redis.call('HINCRBY', count_key, day, 1)",
        "  redis.call('HSET', index_key, index_field, ARGV[3])",
        "  redis.call('PEXPIRE', index_key, math.floor(((day + 1) * DAY - t) / 1000) + "
        f"{kept_after_day_ms(layout)})",
    ]
    return lookup, write


def label_lua(layout: StoreLayout) -> str:
    """The label script. KEYS: the day list, the pending key. ARGV: reported_at µs,
    tx_id, pending ttl ms, fraud ttl ms. A known transaction's fraud goes to each of its
    fraud-tracking entities (``known_at`` no earlier than the transaction); an unknown
    one's earliest report is kept as pending. Returns 1 when known."""
    entities = ", ".join(f"'{e.entity}'" for e in layout.entities if e.frauds)
    return (
        INDEX_LUA
        + f"local FRAUD_ENTITIES = {{{entities}}}\n"
        + r"""
local entry, day = index_find(KEYS[1], ARGV[2])
if not entry then
  local current = redis.call('GET', KEYS[2])
  if (not current) or tonumber(ARGV[1]) < tonumber(current) then
    redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
  end
  return 0
end
local ns = string.sub(KEYS[1], 1, -9)
local t = index_time(entry, day)
local ts = string.format('%d', t)
local known_at = ARGV[1]
if tonumber(known_at) < t then known_at = ts end
local keys = index_keys(entry)
for i, entity in ipairs(FRAUD_ENTITIES) do
  local fraud_key = ns .. entity .. ':' .. keys[i] .. ':fraud'
  local current = redis.call('HGET', fraud_key, ARGV[2])
  local replace = true
  if current then
    local sep = string.find(current, ':', 1, true)
    replace = tonumber(known_at) < tonumber(string.sub(current, sep + 1))
  end
  if replace then
    redis.call('HSET', fraud_key, ARGV[2], ts .. ':' .. known_at)
    redis.call('PEXPIRE', fraud_key, ARGV[4])
  end
end
return 1
"""
    )


# KEYS: the day list. ARGV: tx_id. Returns 1 when the index holds the transaction.
KNOWS_LUA = INDEX_LUA + "if index_find(KEYS[1], ARGV[1]) then return 1 end\nreturn 0\n"
