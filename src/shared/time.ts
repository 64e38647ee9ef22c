/** Epoch milliseconds → RFC 3339 UTC, or null. Storage keeps integers; the wire keeps text. */
export function isoOrNull(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
