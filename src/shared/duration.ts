import { VaultError } from "../http/errors.js";

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const WHOLE = /^(?:\d+[smhdw])+$/;
const PART = /(\d+)([smhdw])/g;

/** Parses `30s`, `15m`, `48h`, `90d`, `2w`, `1d12h` into seconds; null when malformed. */
export function parseDurationSeconds(text: string): number | null {
  if (typeof text !== "string" || text.length > 32 || !WHOLE.test(text)) return null;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART)) total += Number(amount) * UNIT_SECONDS[unit];
  return Number.isSafeInteger(total) && total > 0 ? total : null;
}

export function requireDuration(field: string, text: string): number {
  const seconds = parseDurationSeconds(text);
  if (seconds === null) {
    throw new VaultError("invalid_duration", `${field} must be a duration such as 30s, 15m, 48h, 90d, 2w or 1d12h`, {
      details: { field },
    });
  }
  return seconds;
}

/** A comma list of durations (`30d,7d,1d`), sorted longest first. */
export function requireDurationList(field: string, text: string): number[] {
  return text
    .split(",")
    .map((part) => requireDuration(field, part.trim()))
    .sort((a, b) => b - a);
}
