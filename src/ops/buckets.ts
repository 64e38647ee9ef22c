import type { Redis } from "ioredis";

/** The outcome of taking one token from a bucket. */
export interface TakeResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Unix seconds at which the bucket is full again (`X-RateLimit-Reset`). */
  resetAt: number;
  /** Whole seconds until one token is back (only meaningful when not allowed). */
  retryAfterSeconds: number;
}

export interface BucketStore {
  /** Takes one token from the bucket `key` of `capacity` tokens refilled continuously over a minute. */
  take(key: string, capacity: number): Promise<TakeResult>;
  close(): Promise<void>;
}

const MINUTE_MS = 60_000;

function result(allowed: boolean, capacity: number, tokens: number, nowMs: number): TakeResult {
  const perMs = capacity / MINUTE_MS;
  return {
    allowed,
    limit: capacity,
    remaining: Math.max(0, Math.floor(tokens)),
    resetAt: Math.ceil((nowMs + (capacity - tokens) / perMs) / 1000),
    retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - tokens) / perMs / 1000)),
  };
}

/** Buckets in this process: the limits of a single node (no REDIS_URL). */
export class MemoryBuckets implements BucketStore {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private lastPrune = Date.now();

  async take(key: string, capacity: number): Promise<TakeResult> {
    return this.takeSync(key, capacity);
  }

  takeSync(key: string, capacity: number, now = Date.now()): TakeResult {
    this.prune(now);
    const perMs = capacity / MINUTE_MS;
    const bucket = this.buckets.get(key) ?? { tokens: capacity, at: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + Math.max(0, now - bucket.at) * perMs);
    bucket.at = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    this.buckets.set(key, bucket);
    return result(allowed, capacity, bucket.tokens, now);
  }

  /** A bucket idle for a minute has refilled completely: forgetting it changes nothing. */
  private prune(now: number): void {
    if (now - this.lastPrune < MINUTE_MS) return;
    this.lastPrune = now;
    for (const [key, bucket] of this.buckets) if (now - bucket.at >= MINUTE_MS) this.buckets.delete(key);
  }

  get size(): number {
    return this.buckets.size;
  }

  async close(): Promise<void> {}
}

/**
 * One atomic script per take, timed by the Redis server's clock so every node agrees on the
 * refill. Returns {allowed, tokens × 1000, server now in ms}.
 */
const TAKE_SCRIPT = `
local capacity = tonumber(ARGV[1])
local per_ms = capacity / 60000
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_ms)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], 60000 + 1000)
return {allowed, math.floor(tokens * 1000), now}
`;

type RedisWithTake = Redis & { scaivaultTake(key: string, capacity: number): Promise<[number, number, number]> };

/** Buckets shared by every node through Redis. */
export class RedisBuckets implements BucketStore {
  private readonly redis: RedisWithTake;

  constructor(redis: Redis, private readonly prefix = "scaivault:rl:") {
    redis.defineCommand("scaivaultTake", { numberOfKeys: 1, lua: TAKE_SCRIPT });
    this.redis = redis as RedisWithTake;
  }

  async take(key: string, capacity: number): Promise<TakeResult> {
    const [allowed, milliTokens, now] = await this.redis.scaivaultTake(this.prefix + key, capacity);
    return result(allowed === 1, capacity, milliTokens / 1000, now);
  }

  async close(): Promise<void> {}
}
