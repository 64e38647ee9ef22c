import { vi } from "vitest";
import type { Database, SqlParam } from "../storage/contract.js";

/**
 * While `work` runs, the turns of the event loop are counted (countTurns); each statement matching
 * `pattern` on `db`'s kind of connection notes the turn it ran in. On SQLite every `await` of a
 * statement resolves at once, so statements of one loop land in one turn unless the loop yields:
 * the list shows whether it did.
 */
export async function statementTurns(db: Database, pattern: RegExp, work: (seen: readonly number[]) => Promise<void>): Promise<number[]> {
  const turns = countTurns();
  // Handed to `work` as well, which may watch the statements as they come.
  const seen: number[] = [];
  // On the class, so that it covers PostgreSQL's background connections too (exports run there,
  // each `background()` handing out a new wrapper of them).
  const kind = Object.getPrototypeOf(db) as Pick<Database, "all" | "get">;
  const spies = (["all", "get"] as const).map((method) => {
    const original = kind[method];
    return vi.spyOn(kind, method).mockImplementation(function (this: Database, sql: string, params?: readonly SqlParam[]) {
      if (pattern.test(sql)) seen.push(turns.now());
      return original.call(this, sql, params);
    } as Database["all"]);
  });
  try {
    await work(seen);
  } finally {
    turns.stop();
    for (const spy of spies) spy.mockRestore();
  }
  return seen;
}

/** Counts the turns of the event loop from now until `stop()`: a callback re-queued on each turn. */
export function countTurns(): { now(): number; stop(): void } {
  let turns = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return { now: () => turns, stop: () => void (running = false) };
}

/** The turns in which more than one of the statements ran. */
export function sharedTurns(turns: readonly number[]): number[] {
  return turns.filter((turn, i) => turns.indexOf(turn) !== i);
}
