"""The Lua scripts the replicas' store runs (adapter/coordination/store.py calls them): each
decision one script, atomic in Redis, on Redis's clock (TIME), so no replica reads and then
writes and no two clocks disagree about a window. Each script's comment says its KEYS, its
ARGV and its answer."""

# One decision per key, in order (the same window may come several times): KEYS each the
# receiver's window; ARGV for each, member, per in ms, n, then n pairs (limit, span in ms),
# one per window that applies. Answers three values a decision: granted (1: then the
# store's time of the grant in ms; 0: the wait in ms), and the window's count.
RATE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
local a = 1
for k = 1, #KEYS do
  local key, member = KEYS[k], ARGV[a]
  local per, n = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local first = a + 3
  a = first + 2 * n
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - per)
  local wait = 0
  for i = first, a - 1, 2 do
    local limit = tonumber(ARGV[i])
    local nth = redis.call('ZREVRANGE', key, limit - 1, limit - 1, 'WITHSCORES')
    if nth[2] then
      local at = tonumber(nth[2]) + tonumber(ARGV[i + 1]) - now
      if at > wait then wait = at end
    end
  end
  local count = redis.call('ZCARD', key)
  if wait > 0 then
    out[#out + 1], out[#out + 2], out[#out + 3] = 0, wait, count
  else
    redis.call('ZADD', key, now, member)
    redis.call('PEXPIRE', key, per)
    out[#out + 1], out[#out + 2], out[#out + 3] = 1, now, count + 1
  end
end
return out
"""

# The request is done: its stamp moves to now (the upstream counted it no earlier).
ARRIVED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #KEYS do
  local member = ARGV[2 * i - 1]
  if redis.call('ZSCORE', KEYS[i], member) then
    redis.call('ZADD', KEYS[i], now, member)
    redis.call('PEXPIRE', KEYS[i], ARGV[2 * i])
  end
end
return 1
"""

# Back from falling back: ARGV[1] the window's per in ms; ARGV[2] how many stamps the
# replica counted as the shared window's when it fell back, their ages in ms from ARGV[3]
# on, newest first; then the sends it made alone, each a pair (member, age in ms). A window
# that is gone (Redis restarted empty) first gets those stamps (they still count at the
# upstream). Every replica coming back adds its view to the
# same members, seen:0 the newest, each the latest time any replica saw (GT): rank by rank,
# the most any replica counted at any moment, not their sum.
SEED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local seen = tonumber(ARGV[2])
if seen > 0 and (redis.call('EXISTS', KEYS[1]) == 0 or redis.call('ZSCORE', KEYS[1], 'seen:0')) then
  for i = 1, seen do
    redis.call('ZADD', KEYS[1], 'GT', now - tonumber(ARGV[2 + i]), 'seen:' .. (i - 1))
  end
end
for i = 3 + seen, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], now - tonumber(ARGV[i + 1]), ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""

# The watcher's look, every VIEW_EVERY: KEYS every rate window this replica knows, ARGV
# each one's per in ms; answers each window's count. A replica whose webhooks went to the
# others (their memo claims won) still knows what the shared window held a moment ago.
VIEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - tonumber(ARGV[i]))
  out[i] = redis.call('ZCARD', KEYS[i])
end
return out
"""

# KEYS the memo entries of every claim gathered for one call (store.py GATHER_TURNS: concurrent
# webhooks, a webhook's deliveries); ARGV, three per key: digest, pending mark, its life in
# ms. One digit per key, in order, in one string (one answer to parse, not one a key):
# 1 delivered before; 2 being delivered by someone; 0 claimed, send it. The same key twice
# is decided in order, as two scripts would.
CLAIM = """
local out = {}
for i = 1, #KEYS do
  local digest = ARGV[3 * i - 2]
  local v = redis.call('GET', KEYS[i])
  if v == digest then
    out[i] = '1'
  elseif v and string.sub(v, 1, #digest + 2) == 'p:' .. digest then
    out[i] = '2'
  else
    redis.call('SET', KEYS[i], ARGV[3 * i - 1], 'PX', ARGV[3 * i])
    out[i] = '0'
  end
end
return table.concat(out)
"""

# KEYS[1] a receiver's last deliveries, newest first. ARGV: how many to keep, life in ms,
# then the entries (JSON), oldest first.
HISTORY = """
for i = 3, #ARGV do redis.call('LPUSH', KEYS[1], ARGV[i]) end
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[1]) - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS the memo entries delivered since the last batch; ARGV, three per key: digest, the
# claim's pending mark, life in ms. One command for the batch (a pipeline of SETs costs
# redis-py a command each). A key is written only while it holds this claim's mark, or
# nothing (the mark ran out, no one claimed it since): a claim that ran out and was taken
# by another replica meanwhile stays that replica's.
RECORD = """
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if not v or v == ARGV[3 * i - 1] then
    redis.call('SET', KEYS[i], ARGV[3 * i - 2], 'PX', ARGV[3 * i])
  end
end
return 1
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""


# KEYS[1] a lease. ARGV: this replica, the life in ms. 1: held by this replica (taken, as
# SET NX PX would, or extended by its holder), 0: another replica holds it.
LEASE = """
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if v then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
