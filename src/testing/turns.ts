import { vi } from "vitest";
import type { Database, SqlParam } from "../storage/contract.js";

/**
 * While `work` runs, a callback re-queued on every turn of the event loop counts the turns; each
 * statement matching `pattern` on `db`'s kind of connection notes the turn it ran in. On SQLite
 * every `await` of a statement resolves at once, so statements of one loop land in one turn unless
 * the loop yields: the list shows whether it did.
 */
export async function statementTurns(db: Database, pattern: RegExp, work: () => Promise<void>): Promise<number[]> {
  let turn = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    turn++;
    setImmediate(tick);
  };
  const seen: number[] = [];
  // On the class, so that it covers PostgreSQL's background connections too (exports run there,
  // each `background()` handing out a new wrapper of them).
  const kind = Object.getPrototypeOf(db) as Pick<Database, "all" | "get">;
  const spies = (["all", "get"] as const).map((method) => {
    const original = kind[method];
    return vi.spyOn(kind, method).mockImplementation(function (this: Database, sql: string, params?: readonly SqlParam[]) {
      if (pattern.test(sql)) seen.push(turn);
      return original.call(this, sql, params);
    } as Database["all"]);
  });
  setImmediate(tick);
  try {
    await work();
  } finally {
    running = false;
    for (const spy of spies) spy.mockRestore();
  }
  return seen;
}

/** The turns in which more than one of the statements ran. */
export function sharedTurns(turns: readonly number[]): number[] {
  return turns.filter((turn, i) => turns.indexOf(turn) !== i);
}
