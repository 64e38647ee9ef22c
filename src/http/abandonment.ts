import type { Caller } from "./context.js";

/**
 * Aborted once the caller's client has gone: its connection closed before the answer was
 * written (a client-side timeout, a cancelled call). For work that is worth dropping when nobody
 * waits for it any more — a turn at the key-generation gate — and that has not changed anything
 * yet. Made on first ask, so requests that never ask pay nothing; background work (no HTTP
 * response) is never abandoned.
 */
export function abandonmentOf(caller: Caller): AbortSignal | undefined {
  const ctx = caller.ctx;
  if (ctx.abandoned) return ctx.abandoned;
  const response = ctx.response;
  if (!response) return undefined;
  const controller = new AbortController();
  // `close` comes after a finished answer too; only a close before the end means the client left.
  const onClose = () => {
    if (!response.writableFinished) controller.abort();
  };
  if (response.closed) onClose();
  else response.once("close", onClose);
  ctx.abandoned = controller.signal;
  return controller.signal;
}
