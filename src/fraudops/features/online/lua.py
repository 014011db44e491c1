"""The Redis store's Lua scripts: one per transaction (generated per layout), one per label."""

from __future__ import annotations

from fraudops.features.online.layout import StoreLayout


def exchange_lua(layout: StoreLayout) -> str:
    """The per-transaction script for one layout, with its constants written in.

    KEYS: per entity its entries zset (and its fraud hash when it tracks frauds), then the
    transaction index key and the pending-label key. ARGV: ts (µs), tx_id, index value,
    then one member per entity. The reply is flat strings (known flag, then per entity:
    entries, counts, frauds), cheap to parse on the client. Times are integers below 2**53,
    exact as Lua numbers; ``string.format('%d')`` writes them back without rounding.
    """
    lines = [
        "local t = tonumber(ARGV[1])",
        "local ts = ARGV[1]",
        "local tx_id = ARGV[2]",
        "local RS = '\\30'",
        "local index_key = KEYS[#KEYS - 1]",
        "local pending_key = KEYS[#KEYS]",
        "local known = redis.call('EXISTS', index_key)",
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
        lines += [
            f"limit = t - {entity.retention_us}",
            f"redis.call('ZREMRANGEBYSCORE', {entries_key}, '-inf', string.format('%d', limit))",
        ]
        if entity.entries:
            lines.append(
                f"out[#out + 1] = table.concat(redis.call('ZRANGE', {entries_key}, 0, -1), RS)"
            )
        else:
            lines.append("out[#out + 1] = ''")
        lines.append("parts = {}")
        for lo, hi in entity.count_ranges:
            lines.append(
                f"parts[#parts + 1] = redis.call('ZCOUNT', {entries_key}, "
                f"string.format('(%d', t - {lo}), string.format('%d', t - {hi}))"
            )
        lines.append("out[#out + 1] = table.concat(parts, ',')")
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
        writes += [
            f"  redis.call('ZADD', {entries_key}, ts, ARGV[{4 + e}])",
            f"  redis.call('PEXPIRE', {entries_key}, {ttl})",
        ]
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
        f"  redis.call('SET', index_key, ARGV[3], 'PX', {layout.index_retention_us // 1000 + 1})",
        "end",
        "return out",
    ]
    return "\n".join(lines) + "\n"


LABEL_LUA = """
-- KEYS: index key, pending key. ARGV: reported_at us, tx_id, pending ttl ms, fraud ttl ms
local entry = redis.call('GET', KEYS[1])
if not entry then
  local current = redis.call('GET', KEYS[2])
  if (not current) or tonumber(ARGV[1]) < tonumber(current) then
    redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
  end
  return 0
end
local parts = {}
for part in string.gmatch(entry, '[^\\31]+') do parts[#parts + 1] = part end
local ts = parts[1]
local known_at = ARGV[1]
if tonumber(known_at) < tonumber(ts) then known_at = ts end
for i = 2, #parts do
  local current = redis.call('HGET', parts[i], ARGV[2])
  local replace = true
  if current then
    local sep = string.find(current, ':', 1, true)
    replace = tonumber(known_at) < tonumber(string.sub(current, sep + 1))
  end
  if replace then
    redis.call('HSET', parts[i], ARGV[2], ts .. ':' .. known_at)
    redis.call('PEXPIRE', parts[i], ARGV[4])
  end
end
return 1
"""
