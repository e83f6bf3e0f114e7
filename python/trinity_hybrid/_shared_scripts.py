"""The Lua scripts ``_shared.SharedState`` runs in Redis, each atomic there: a breaker's hold
that keeps the longer deadline, counter batches applied once per token, and a probe lease given
back only by its holder."""

__all__ = ["COUNTERS_SCRIPT", "OPEN_SCRIPT", "RELEASE_SCRIPT"]

# KEYS[1] the open key. ARGV: hold (ms), channel, message. The longer hold wins, so two
# replicas opening at once leave the later deadline. PTTL is -2 when there is no key.
OPEN_SCRIPT = """
if tonumber(ARGV[1]) > redis.call('PTTL', KEYS[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[1])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
"""
# KEYS[1] the batch token key; KEYS[2..] counter hashes. ARGV[1] token TTL (s), then for each
# hash: field count, then field/increment pairs. Applied once per token, all or nothing.
COUNTERS_SCRIPT = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
local position = 2
for index = 2, #KEYS do
  local fields = tonumber(ARGV[position])
  position = position + 1
  for _ = 1, fields do
    redis.call('HINCRBY', KEYS[index], ARGV[position], ARGV[position + 1])
    position = position + 2
  end
end
return 1
"""
# Deletes the probe lease only if this replica still holds it.
RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
