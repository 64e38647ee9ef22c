/** The live policy simulator (spec/console.md §4): builds `POST /v1/policies/test` bodies, debounced. */

export interface SimulatorInput {
  identity_id: string;
  path: string;
  permission: string;
  source_ip: string;
  mfa_verified: boolean;
  /** A `datetime-local` value or empty (now). */
  timestamp: string;
}

/** The request body, or null while the input cannot be asked yet (no identity or path). */
export function testBody(input: SimulatorInput): Record<string, unknown> | null {
  if (!input.identity_id.trim() || !input.path.trim()) return null;
  const context: Record<string, unknown> = { mfa_verified: input.mfa_verified };
  if (input.source_ip.trim()) context.source_ip = input.source_ip.trim();
  if (input.timestamp) {
    const when = new Date(input.timestamp);
    if (!Number.isNaN(when.getTime())) context.timestamp = when.toISOString();
  }
  return { identity_id: input.identity_id.trim(), path: input.path.trim(), permission: input.permission, context };
}

export interface TestResult {
  allowed: boolean;
  code: string | null;
  policy_id: string | null;
  rule_index: number | null;
  failed_condition: string | null;
}

/** One sentence for the result (also announced in the live region). */
export function describe(result: TestResult): string {
  if (result.allowed) return `Allowed${result.policy_id ? ` by ${result.policy_id}` : ""}${result.rule_index !== null ? `, rule ${result.rule_index}` : ""}`;
  const parts = [`Denied: ${result.code ?? "access_denied"}`];
  if (result.policy_id) parts.push(`policy ${result.policy_id}`);
  if (result.rule_index !== null && result.rule_index !== undefined) parts.push(`rule ${result.rule_index}`);
  if (result.failed_condition) parts.push(`failed condition ${result.failed_condition}`);
  return parts.join(", ");
}

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: Timers = { set: (fn, ms) => setTimeout(fn, ms), clear: (h) => clearTimeout(h as number) };

/** Calls `fn` with the latest arguments once `ms` pass without another call. */
export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number, timers: Timers = realTimers): ((...args: A) => void) & { cancel(): void } {
  let handle: unknown = null;
  const wrapped = (...args: A) => {
    if (handle !== null) timers.clear(handle);
    handle = timers.set(() => {
      handle = null;
      fn(...args);
    }, ms);
  };
  wrapped.cancel = () => {
    if (handle !== null) timers.clear(handle);
    handle = null;
  };
  return wrapped;
}

/** Drops answers that arrive after a newer request was sent (out-of-order responses). */
export function latestOnly(): () => (apply: () => void) => void {
  let counter = 0;
  return () => {
    const mine = ++counter;
    return (apply) => {
      if (mine === counter) apply();
    };
  };
}
