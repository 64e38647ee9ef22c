/** Epoch milliseconds → RFC 3339 UTC, or null. Storage keeps integers; the wire keeps text. */
export function isoOrNull(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * RFC 3339 with microseconds (`2026-01-15T10:30:00.123000Z`), the precision the docs' audit and
 * event examples show. Times are stored in milliseconds, so the last three digits are zeros: the
 * text sorts exactly as the stored integer does, and parses back to the same millisecond.
 */
export function isoMicros(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, -1)}000Z`;
}
