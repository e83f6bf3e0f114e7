"""The Lua scripts behind ``_limits.RedisLimits``: admission, settling, creating and deleting a
key, each one atomic in Redis. ``ADMIT_SCRIPT`` is the twin of ``_limits.judge``: a rule changed
in one is changed in the other (``tests/test_virtual_keys_equivalence.py`` compares them)."""

from __future__ import annotations

__all__ = ["ADMIT_SCRIPT", "CREATE_SCRIPT", "DELETE_SCRIPT", "SETTLE_SCRIPT"]

# Shared by the scripts. Amounts travel as decimal strings: a Lua number passed to a Redis
# command could be written in exponent form. Sums compare as doubles, exact below 2**53.
LUA_HELPERS = """
local function count(key, field)
  return tonumber(redis.call('HGET', key, field) or '0')
end
local function add(key, field, amount, ttl)
  if amount ~= '0' then redis.call('HINCRBY', key, field, amount) end
  if redis.call('TTL', key) == -1 then redis.call('EXPIRE', key, ttl) end
end
local function unhold(record)
  local tokens, cost, minute, day, month = string.match(record, '^(%d+)|(%d+)|([^|]+)|([^|]+)|([^|]+)$')
  if tokens ~= '0' and redis.call('EXISTS', minute) == 1 then
    redis.call('HINCRBY', minute, 'tokens_held', '-' .. tokens)
  end
  if cost ~= '0' then
    if redis.call('EXISTS', day) == 1 then redis.call('HINCRBY', day, 'cost_held', '-' .. cost) end
    if redis.call('EXISTS', month) == 1 then redis.call('HINCRBY', month, 'cost_held', '-' .. cost) end
  end
end
"""
# KEYS: 1 holds by expiry (zset), 2 hold records (hash), 3 definitions by digest (hash),
# 4 expired holds not yet settled (zset, by the time they expired).
# ARGV: 1 window key prefix, 2 digest, 3 configured definition (json) or '', 4 model,
# 5 minute, 6 day, 7 month windows, 8 now (unix ms), 9 hold id, 10 hold expiry (unix ms),
# 11 tokens, 12 cost (nano-USD), 13..15 window TTLs (s), 16 expired holds released at most,
# 17 the moment before which expired holds are forgotten (unix ms).
ADMIT_SCRIPT = (
    LUA_HELPERS
    + """
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[8], 'LIMIT', 0, tonumber(ARGV[16]))
for _, id in ipairs(expired) do
  local record = redis.call('HGET', KEYS[2], id)
  if record then
    unhold(record)
    redis.call('HDEL', KEYS[2], id)
    redis.call('ZADD', KEYS[4], ARGV[8], id)
  end
  redis.call('ZREM', KEYS[1], id)
end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[17])
local raw = ARGV[3]
if raw == '' then raw = redis.call('HGET', KEYS[3], ARGV[2]) end
if not raw then return {'unknown', '', 0, 0} end
local key = cjson.decode(raw)
if #key.models > 0 then
  local allowed = false
  for _, model in ipairs(key.models) do
    if model == ARGV[4] then allowed = true end
  end
  if not allowed then return {'model', raw, 0, 0} end
end
local base = ARGV[1] .. key.name .. ':'
local minute, day, month = base .. ARGV[5], base .. ARGV[6], base .. ARGV[7]
local tokens, cost = math.max(tonumber(ARGV[11]), 1), math.max(tonumber(ARGV[12]), 1)
if key.rpm then
  local requests = count(minute, 'requests')
  if requests + 1 > key.rpm then return {'rpm', raw, requests, key.rpm} end
end
if key.tpm then
  local used = count(minute, 'tokens_used') + count(minute, 'tokens_held')
  if used + tokens > key.tpm then return {'tpm', raw, used, key.tpm} end
end
if key.budget_day_nano_usd then
  local used = count(day, 'cost_used') + count(day, 'cost_held')
  if used + cost > key.budget_day_nano_usd then return {'budget_day', raw, used, key.budget_day_nano_usd} end
end
if key.budget_month_nano_usd then
  local used = count(month, 'cost_used') + count(month, 'cost_held')
  if used + cost > key.budget_month_nano_usd then return {'budget_month', raw, used, key.budget_month_nano_usd} end
end
add(minute, 'requests', '1', ARGV[13])
add(minute, 'tokens_held', ARGV[11], ARGV[13])
add(day, 'cost_held', ARGV[12], ARGV[14])
add(month, 'cost_held', ARGV[12], ARGV[15])
redis.call('ZADD', KEYS[1], ARGV[10], ARGV[9])
redis.call('HSET', KEYS[2], ARGV[9], ARGV[11] .. '|' .. ARGV[12] .. '|' .. minute .. '|' .. day .. '|' .. month)
return {'ok', raw, 0, 0}
"""
)
# KEYS: 1 holds by expiry, 2 hold records, 3 expired holds, 4 the charge marker, 5..7 the
# hold's windows. ARGV: 1 hold id, 2 tokens, 3 cost (nano-USD), 4 '1' for a charge (spend
# without a hold here: decided while Redis was away), 5 charge marker TTL (s), 6..8 window TTLs.
# A hold is settled once: while it is held or expired, never after it was settled.
SETTLE_SCRIPT = (
    LUA_HELPERS
    + """
if ARGV[4] == '1' then
  if not redis.call('SET', KEYS[4], '1', 'NX', 'EX', ARGV[5]) then return 0 end
else
  local record = redis.call('HGET', KEYS[2], ARGV[1])
  if record then
    unhold(record)
    redis.call('HDEL', KEYS[2], ARGV[1])
    redis.call('ZREM', KEYS[1], ARGV[1])
  elseif redis.call('ZREM', KEYS[3], ARGV[1]) == 0 then
    return 0
  end
end
add(KEYS[5], 'tokens_used', ARGV[2], ARGV[6])
add(KEYS[6], 'cost_used', ARGV[3], ARGV[7])
add(KEYS[7], 'cost_used', ARGV[3], ARGV[8])
return 1
"""
)
# KEYS: 1 names (name → digest), 2 definitions (digest → json). ARGV: name, digest, json.
CREATE_SCRIPT = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""
DELETE_SCRIPT = """
local digest = redis.call('HGET', KEYS[1], ARGV[1])
if not digest then return false end
local raw = redis.call('HGET', KEYS[2], digest)
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], digest)
return raw
"""
