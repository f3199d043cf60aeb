"""The Lua scripts of ``RedisStore``: each write, and each read of a whole state, one atomic step.

Redis runs a script as one command: nothing else happens between its first and its
last call, so a write's check, its change, the revision it bumps and the change log
entry it appends are seen together or not at all, by every replica. The keys of a
namespace ``ns`` (all with the hash tag ``{ns}``, so they would share one slot of a
Redis Cluster):

- ``{ns}:initialized``: the epoch, a random id set by the first whole-config write.
  Its absence means the namespace was never seeded, or Redis lost its data.
- ``{ns}:seq``: the number of changes made in the namespace, all tenants together.
- ``{ns}:log``: the change log, a stream trimmed to about ``log_length`` entries,
  one per change: ``seq``, ``tenant``, ``rev``, ``op``, ``id`` and ``value``.
- ``{ns}:revs``: a hash of tenant → its revision (the number of its changes).
- ``{ns}:next``: a hash of tenant → the position its next new tracepoint takes.
- ``{ns}:tp:TENANT``: a hash of tracepoint id → ``"POSITION JSON"``.

Each write also publishes ``TENANT REVISION`` on ``{ns}:changes``, for whoever
listens (``redis-cli SUBSCRIBE``); replicas follow the log itself, which a
disconnect cannot make them miss.
"""

from __future__ import annotations

from typing import Final

__all__ = ["SET", "SNAPSHOT", "TENANT_SNAPSHOT", "WRITE"]

# KEYS: initialized, seq, log, revs, next, tp:TENANT
# ARGV: tenant, op (create | replace | delete), id, json, expected "EPOCH REVISION" or "",
#       log length, changes channel
# Answers {status, seq, rev, old value, epoch}: OK, SAME (nothing to change), CONFLICT
# (the epoch and revision are not those expected), EXISTS, UNKNOWN, UNINITIALIZED.
WRITE: Final = """
local epoch = redis.call('GET', KEYS[1])
local seq = tonumber(redis.call('GET', KEYS[2]) or '0')
if not epoch then return {'UNINITIALIZED', seq, 0, '', ''} end
local tenant, op, id = ARGV[1], ARGV[2], ARGV[3]
local rev = tonumber(redis.call('HGET', KEYS[4], tenant) or '0')
if ARGV[5] ~= '' and ARGV[5] ~= epoch .. ' ' .. rev then
  return {'CONFLICT', seq, rev, '', epoch}
end
local old = redis.call('HGET', KEYS[6], id)
local value = ''
if op == 'delete' then
  if not old then return {'UNKNOWN', seq, rev, '', epoch} end
  redis.call('HDEL', KEYS[6], id)
else
  if op == 'create' and old then return {'EXISTS', seq, rev, '', epoch} end
  local position
  if old then
    position = string.match(old, '^(%d+) ')
  else
    position = tostring(redis.call('HINCRBY', KEYS[5], tenant, 1) - 1)
  end
  value = position .. ' ' .. ARGV[4]
  if old == value then return {'SAME', seq, rev, '', epoch} end
  redis.call('HSET', KEYS[6], id, value)
end
rev = rev + 1
redis.call('HSET', KEYS[4], tenant, rev)
seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 'seq', seq, 'tenant', tenant,
  'rev', rev, 'op', op, 'id', id, 'value', value)
redis.call('PUBLISH', ARGV[7], tenant .. ' ' .. rev)
return {'OK', seq, rev, old or '', epoch}
"""

# KEYS: initialized, seq, log, revs, next, tp:TENANT
# ARGV: tenant, mode (set | seed), expected "EPOCH REVISION" or "", log length, channel,
#       new epoch, then id and json of each tracepoint in order.
# ``set`` writes the tenant's whole config, and initializes the namespace if it is not;
# ``seed`` does so only if the namespace is not initialized (ALREADY otherwise), so two
# replicas seeding at once leave one whole config, never a mix or a subset.
# Answers {status, seq, rev, epoch}: OK, CONFLICT, ALREADY.
SET: Final = """
local epoch = redis.call('GET', KEYS[1])
local seq = tonumber(redis.call('GET', KEYS[2]) or '0')
local tenant = ARGV[1]
local rev = tonumber(redis.call('HGET', KEYS[4], tenant) or '0')
if epoch and ARGV[2] == 'seed' then return {'ALREADY', seq, rev, epoch} end
if epoch and ARGV[3] ~= '' and ARGV[3] ~= epoch .. ' ' .. rev then
  return {'CONFLICT', seq, rev, epoch}
end
if not epoch then
  epoch = ARGV[6]
  redis.call('SET', KEYS[1], epoch)
end
redis.call('DEL', KEYS[6])
local count = 0
for i = 7, #ARGV, 2 do
  redis.call('HSET', KEYS[6], ARGV[i], count .. ' ' .. ARGV[i + 1])
  count = count + 1
end
redis.call('HSET', KEYS[5], tenant, count)
rev = rev + 1
redis.call('HSET', KEYS[4], tenant, rev)
seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'seq', seq, 'tenant', tenant,
  'rev', rev, 'op', 'set', 'id', '', 'value', '')
redis.call('PUBLISH', ARGV[5], tenant .. ' ' .. rev)
return {'OK', seq, rev, epoch}
"""

# KEYS: initialized, seq, log, revs
# ARGV: the prefix of a tenant's tracepoint hash ("{ns}:tp:")
# Answers {epoch or false, seq, the last log entry's id, then tenant, rev, {id, value, ...}
# for each tenant}: every tenant's config at one moment.
SNAPSHOT: Final = """
local epoch = redis.call('GET', KEYS[1])
local seq = redis.call('GET', KEYS[2]) or '0'
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
local last_id = '0-0'
if #last > 0 then last_id = last[1][1] end
local out = {epoch or false, seq, last_id}
local revs = redis.call('HGETALL', KEYS[4])
for i = 1, #revs, 2 do
  out[#out + 1] = revs[i]
  out[#out + 1] = revs[i + 1]
  out[#out + 1] = redis.call('HGETALL', ARGV[1] .. revs[i])
end
return out
"""

# KEYS: revs, tp:TENANT; ARGV: tenant. Answers {rev, {id, value, ...}}.
TENANT_SNAPSHOT: Final = """
local rev = redis.call('HGET', KEYS[1], ARGV[1]) or '0'
return {rev, redis.call('HGETALL', KEYS[2])}
"""
