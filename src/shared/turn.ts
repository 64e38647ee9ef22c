/**
 * Resolves on the event loop's next turn, after the I/O callbacks waiting now. A loop of
 * better-sqlite3 statements never waits otherwise (each `await` of one resolves at once), so a
 * long loop holds the node — every socket, timer and request — until it ends.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
