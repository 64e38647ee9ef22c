import type { Queryable } from "../storage/contract.js";

/**
 * Synchronising tests on states the vault exposes, instead of sleeping and hoping: a request
 * known to be in flight (the `scaivault_active_requests` gauge), a condition polled with a
 * generous bound that fails with a name rather than passing by luck.
 */

/** Polls `check` until it returns a value (not undefined/false); fails naming `what` after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Requests in flight in `category` on the vault at `baseUrl`, from its (open) /v1/metrics. */
export async function activeRequests(baseUrl: string, category: string): Promise<number> {
  const text = await (await fetch(new URL("/v1/metrics", baseUrl))).text();
  const line = text.split("\n").find((l) => l.startsWith(`scaivault_active_requests{path_category="${category}"} `));
  return line ? Number(line.split(" ")[1]) : 0;
}

/** Waits until at least `n` requests of `category` are in flight (they passed the server's onRequest). */
export async function inFlight(baseUrl: string, category: string, n = 1, timeoutMs = 30_000): Promise<void> {
  await until(`${n} ${category} request(s) in flight at ${baseUrl}`, async () => (await activeRequests(baseUrl, category)) >= n, timeoutMs);
}

/**
 * Events the fan-out pass has yet to handle: unnumbered (PostgreSQL numbers in the pass) or left
 * for fan-out (SQLite numbers as it writes, and leaves only events of tenants with a target).
 */
export async function eventsAwaitingFanOut(db: Queryable): Promise<number> {
  const row = await db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM events WHERE dispatch_seq IS NULL OR fanout_pending IS NOT NULL");
  return Number(row?.n);
}
