// The Lua scripts of the cluster: each step that must not be seen half-done
// by another worker, a client, or a crash runs as one script (Redis runs a
// script atomically). ioredis sends them by hash (EVALSHA) and loads them
// on first use, after a restart too.
//
// A task entry's header (field `h`) starts with its lease in ms: the
// reclaim script reads it there (see _layout.ts).

import type { RedisClient } from "./_redis.ts";

const SCRIPTS = {
  /**
   * Adds tasks to the stream; returns their entry ids.
   * KEYS: tasks. ARGV: per task, its header and its payload.
   */
  mpSubmit: `
local ids = {}
for i = 1, #ARGV, 2 do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', 'h', ARGV[i], 'p', ARGV[i + 1])
end
return ids`,

  /**
   * Writes results, then acknowledges and deletes their tasks: a result is
   * never acknowledged without being written. One command per result list
   * and one XACK and XDEL for all: Redis runs a few commands per batch.
   * KEYS: tasks, then the result lists. ARGV: group, result ttl (ms), the
   * number of ids, the ids, then per result list its count and results.
   */
  mpComplete: `
local ids = tonumber(ARGV[3])
local at = 4 + ids
for k = 2, #KEYS do
  local count = tonumber(ARGV[at])
  redis.call('RPUSH', KEYS[k], unpack(ARGV, at + 1, at + count))
  redis.call('PEXPIRE', KEYS[k], ARGV[2])
  at = at + count + 1
end
redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 4, 3 + ids))
redis.call('XDEL', KEYS[1], unpack(ARGV, 4, 3 + ids))
return ids`,

  /**
   * Puts a task back as a new entry (a retry, or a stopping worker's
   * release) and drops the old one.
   * KEYS: tasks. ARGV: group, old id, then the new entry's fields.
   */
  mpRequeue: `
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return id`,

  /**
   * Takes over the tasks whose lease ran out (idle for longer than their
   * own lease), at most ARGV[4] of them, scanning at most ARGV[5] pending
   * entries. Returns {id, fields, deliveries before, previous owner} each.
   * Entries that were deleted meanwhile (cancelled) are acknowledged.
   * KEYS: tasks. ARGV: group, consumer, shortest lease (ms), most, budget.
   */
  mpReclaim: `
local out = {}
local start = '-'
local scanned = 0
local most = tonumber(ARGV[4])
local budget = tonumber(ARGV[5])
while scanned < budget and #out < most do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[3], start, '+', 100)
  if #pending == 0 then break end
  for _, p in ipairs(pending) do
    local id = p[1]
    start = '(' .. id
    local entry = redis.call('XRANGE', KEYS[1], id, id)
    if #entry == 0 then
      redis.call('XACK', KEYS[1], ARGV[1], id)
    elseif #out < most then
      local fields = entry[1][2]
      local lease = 30000
      for i = 1, #fields, 2 do
        if fields[i] == 'h' then
          lease = tonumber(string.match(fields[i + 1], '^(%d+)|')) or lease
        end
      end
      if p[3] >= lease then
        local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], lease, id)
        if #claimed > 0 then
          out[#out + 1] = {id, fields, p[4], p[2]}
        end
      end
    end
  end
  scanned = scanned + #pending
  if #pending < 100 then break end
end
return out`,

  /**
   * Renews the leases of this consumer's tasks (XCLAIM JUSTID resets their
   * idle time and not their delivery count). Returns the ids that another
   * consumer holds now (it took them over).
   * KEYS: tasks. ARGV: group, consumer, then ids.
   */
  mpRenew: `
local taken = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  if #p == 1 then
    if p[1][2] == ARGV[2] then
      redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'JUSTID')
    else
      taken[#taken + 1] = id
    end
  end
end
return taken`,

  /**
   * Fails a task whose workers were lost too often: keeps it in the
   * dead-letter stream, writes its failure, acknowledges it.
   * KEYS: tasks, dead, results. ARGV: group, id, result ttl, result bytes,
   * then the dead entry's fields.
   */
  mpBury: `
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', unpack(ARGV, 5))
redis.call('RPUSH', KEYS[3], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1`,

  /**
   * A stopping worker's release: every task it holds goes back to the
   * stream as a new entry, for the other workers at once; then it leaves
   * the group. KEYS: tasks, workers, worker info. ARGV: group, consumer.
   */
  mpRelease: `
local n = 0
while true do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 100, ARGV[2])
  if #pending == 0 then break end
  for _, p in ipairs(pending) do
    local id = p[1]
    local entry = redis.call('XRANGE', KEYS[1], id, id)
    if #entry == 1 then
      redis.call('XADD', KEYS[1], '*', unpack(entry[1][2]))
      n = n + 1
    end
    redis.call('XACK', KEYS[1], ARGV[1], id)
    redis.call('XDEL', KEYS[1], id)
  end
end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
return n`,

  /**
   * A worker says it is alive until now + ttl (server time), and forgets
   * the workers that stopped saying so, and their empty consumers.
   * KEYS: workers, worker info, tasks. ARGV: consumer, ttl, info, group.
   */
  mpHeartbeat: `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, name in ipairs(gone) do redis.call('HDEL', KEYS[2], name) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local consumers = redis.pcall('XINFO', 'CONSUMERS', KEYS[3], ARGV[4])
if type(consumers) == 'table' and consumers.err == nil then
  for _, c in ipairs(consumers) do
    local info = {}
    for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
    if info['pending'] == 0 and info['idle'] > ttl and
        redis.call('ZSCORE', KEYS[1], info['name']) == false then
      redis.call('XGROUP', 'DELCONSUMER', KEYS[3], ARGV[4], info['name'])
    end
  end
end
return now`,

  /** What the live workers said about themselves. KEYS: workers, info. */
  mpWorkers: `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
if #live == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(live))`,

  /**
   * Appends to a queue unless it holds maxsize items already.
   * KEYS: items, maxsize. ARGV: bytes. Returns 1 when put, 0 when full.
   */
  mpQueuePut: `
local max = tonumber(redis.call('GET', KEYS[2]) or '0')
if max > 0 and redis.call('LLEN', KEYS[1]) >= max then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[1])
return 1`,

  /**
   * Takes the queue's first item, if any (a blocking get passes ARGV[1] =
   * '0': it took one with BLPOP already), and tells waiting putters of a
   * bounded queue that there is room. KEYS: items, maxsize, space.
   */
  mpQueueTake: `
local item = false
if ARGV[1] == '1' then item = redis.call('LPOP', KEYS[1]) end
if (item or ARGV[1] == '0') and redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('RPUSH', KEYS[3], '1')
  redis.call('LTRIM', KEYS[3], -64, -1)
  redis.call('PEXPIRE', KEYS[3], 60000)
end
return item`,
} as const;

/** The name of one of the scripts above. */
export type ScriptName = keyof typeof SCRIPTS;

/** Teaches a connection the scripts (once per connection). */
export function defineScripts(client: RedisClient): void {
  for (const [name, lua] of Object.entries(SCRIPTS)) {
    client.defineCommand(name, { lua });
  }
}

type Argument = string | number | Uint8Array;

/** Runs a script with text replies. */
export function runScript(
  client: RedisClient,
  name: ScriptName,
  keys: string[],
  args: Argument[],
): Promise<unknown> {
  return (client as unknown as Record<string, (...a: unknown[]) => unknown>)
    [name](keys.length, ...keys, ...args) as Promise<unknown>;
}

/** Runs a script with binary replies (Buffers). */
export function runScriptBuffer(
  client: RedisClient,
  name: ScriptName,
  keys: string[],
  args: Argument[],
): Promise<unknown> {
  return (client as unknown as Record<string, (...a: unknown[]) => unknown>)
    [`${name}Buffer`](keys.length, ...keys, ...args) as Promise<unknown>;
}
