import pg from "pg";
import { vi } from "vitest";

/**
 * Records the text of every query message node-postgres sends from this process (every pool and
 * client) until `stop()`: for tests that check which statements travel together.
 */
export function recordPgMessages(): { sent: string[]; stop(): void } {
  const sent: string[] = [];
  const real = pg.Client.prototype.query;
  const spy = vi.spyOn(pg.Client.prototype, "query").mockImplementation(function (this: pg.Client, ...args: unknown[]) {
    const config = args[0] as string | { text: string };
    sent.push(typeof config === "string" ? config : config.text);
    return (real as (...a: unknown[]) => unknown).apply(this, args) as never;
  });
  return { sent, stop: () => spy.mockRestore() };
}
