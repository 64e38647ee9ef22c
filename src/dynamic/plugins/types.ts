/** Where and how long: the filled-in connection URL (holds the root password: never logged) and the timeouts. */
export interface Target {
  url: string;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
}

export type FailureReason = "timeout" | "refused" | "auth" | "failed";

/**
 * A target system failed. Carries what an operator may see — which statement, the driver's code —
 * and never the statement text or driver message, either of which may hold a password.
 */
export class BackendFailure extends Error {
  constructor(readonly reason: FailureReason, readonly statement: number | null, readonly backendCode: string | null) {
    super(`${statement !== null ? `statement ${statement} failed` : "the target failed"} (${reason}${backendCode ? `, ${backendCode}` : ""})`);
    this.name = "BackendFailure";
  }
}

/** What a role asks a database plugin to do, the statements already rendered and split. */
export interface DatabasePlugin {
  readonly name: "postgresql" | "mysql" | "redis";
  /** Opens a connection and runs a trivial command (engine create, PATCH, health). */
  test(target: Target): Promise<void>;
  /** Creates the user: SQL plugins run `statements` (PostgreSQL in one transaction); redis sets `rules`. */
  create(target: Target, user: { username: string; password: string; statements: string[]; rules: string[] }): Promise<void>;
  /** Ends the user's sessions (best-effort) and removes it. Must succeed when the user is already gone. */
  revoke(target: Target, user: { username: string; statements: string[] }): Promise<void>;
  /** Runs renew statements (may be none). */
  renew(target: Target, statements: string[]): Promise<void>;
  /** Sets a new password for the root user the target URL logs in as. */
  rotateRoot(target: Target, rootUsername: string, newPassword: string): Promise<void>;
}

/** Classifies a driver error by its code, never its message (timeouts are told apart by `within`). */
export function classify(error: unknown, statement: number | null): BackendFailure {
  if (error instanceof BackendFailure) return error;
  const e = error as { code?: unknown; errno?: unknown };
  const code = typeof e?.code === "string" ? e.code : typeof e?.errno === "number" ? String(e.errno) : null;
  if (code === "ETIMEDOUT" || code === "57014" || code === "PROTOCOL_SEQUENCE_TIMEOUT") return new BackendFailure("timeout", statement, code);
  if (code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EHOSTUNREACH" || code === "ENOTFOUND" || code === "EPIPE") return new BackendFailure("refused", statement, code);
  if (code === "28P01" || code === "28000" || code === "ER_ACCESS_DENIED_ERROR" || code === "1045") return new BackendFailure("auth", statement, code);
  return new BackendFailure("failed", statement, code);
}

/** How long after its deadline a call that has not settled is abandoned as timed out. */
const GRACE_MS = 1000;

/**
 * How much earlier than its deadline, by the wall clock, a driver's timeout may fire: Node runs
 * timers against the event loop's cached time, which lags the clock by however long the loop was
 * busy when the timer was set (tens of milliseconds on a loaded machine).
 */
function earlyFiringMs(deadlineMs: number): number {
  return Math.min(250, deadlineMs / 10);
}

/**
 * Runs a driver call whose own timeout is `deadlineMs`. Drivers reject a timeout with a bare error
 * (no code), so any failure at (or just before, `earlyFiringMs`) the deadline is a timeout, by the clock rather than by
 * reading the message; a call that has not settled `GRACE_MS` later (some drivers' timeouts do
 * not cover every phase) is abandoned as timed out.
 */
export async function within<T>(deadlineMs: number, work: Promise<T>, statement: number | null = null): Promise<T> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new BackendFailure("timeout", statement, null)), deadlineMs + GRACE_MS);
      }),
    ]);
  } catch (error) {
    if (error instanceof BackendFailure || Date.now() - started < deadlineMs - earlyFiringMs(deadlineMs)) throw error;
    throw new BackendFailure("timeout", statement, classify(error, statement).backendCode);
  } finally {
    clearTimeout(timer);
  }
}
