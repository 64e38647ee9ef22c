/** Epoch milliseconds → RFC 3339 UTC, or null. Storage keeps integers; the wire keeps text. */
export function isoOrNull(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * RFC 3339 with microseconds (`2026-01-15T10:30:00.123456Z`), the precision the docs' audit and
 * event examples show. Times are stored as epoch milliseconds plus, where the row has it, the
 * microseconds within that millisecond (0–999); rows written before that column read as `000`.
 * Either way the text sorts as the stored time does and parses back to the same millisecond.
 */
export function isoMicros(ms: number, micros: number | string | null | undefined = null): string {
  return `${new Date(ms).toISOString().slice(0, -1)}${String(micros == null ? 0 : Number(micros)).padStart(3, "0")}Z`;
}

/**
 * Wall-clock time in microseconds: the monotonic high-resolution clock plus an offset taken at a
 * tick of the wall clock (so it is right to a few microseconds), taken again whenever the two part
 * by more than 2 ms (the wall clock was stepped, or drift). The digits below the millisecond are
 * measured, not made up; the millisecond is within 2 ms of `Date.now()`.
 */
export function nowMicros(): { ms: number; micros: number } {
  let us = hrMicros() + offsetUs;
  if (Math.abs(us - Date.now() * 1000) > 2000) {
    offsetUs = wallOffset();
    us = hrMicros() + offsetUs;
  }
  const ms = Math.floor(us / 1000);
  return { ms, micros: us - ms * 1000 };
}

function hrMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Waits for the wall clock's next millisecond (at most one), the moment its value is exact. */
function wallOffset(): number {
  const start = Date.now();
  let wall = start;
  while (wall === start) wall = Date.now();
  return wall * 1000 - hrMicros();
}

let offsetUs = wallOffset();
