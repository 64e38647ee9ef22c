import { parseDurationSeconds, requireDuration } from "../shared/duration.js";
import type { RotationPolicyRow } from "./policy-store.js";
import type { ScheduleRow } from "./schedule-store.js";

/** A warn_before / notify_before threshold as written (`7d`) and in milliseconds. */
export interface Threshold {
  text: string;
  ms: number;
}

/** `"7d,1d"` → thresholds, longest first; duplicates collapse. */
export function parseThresholds(field: string, list: string | null): Threshold[] {
  if (list === null || list.trim() === "") return [];
  const byMs = new Map<number, Threshold>();
  for (const part of list.split(",")) {
    const text = part.trim();
    const ms = requireDuration(field, text) * 1000;
    if (!byMs.has(ms)) byMs.set(ms, { text, ms });
  }
  return [...byMs.values()].sort((a, b) => b.ms - a.ms);
}

/** Thresholds stored by the vault were checked on the way in; a bad one is skipped, not fatal. */
export function storedThresholds(list: string | null): Threshold[] {
  if (list === null) return [];
  return list
    .split(",")
    .map((text) => ({ text: text.trim(), ms: (parseDurationSeconds(text.trim()) ?? 0) * 1000 }))
    .filter((t) => t.ms > 0)
    .sort((a, b) => b.ms - a.ms);
}

/** How many thresholds (longest first) fall at or before `at`: those are never announced. */
export function thresholdsPassed(thresholds: readonly Threshold[], dueAt: number, at: number): number {
  let n = 0;
  while (n < thresholds.length && dueAt - thresholds[n].ms <= at) n++;
  return n;
}

/** The next moment of a scheduled cycle: its next warning, else the due time itself. */
export function nextScheduledFire(thresholds: readonly Threshold[], dueAt: number, warned: number): number {
  return warned < thresholds.length ? dueAt - thresholds[warned].ms : dueAt;
}

/** A fresh cycle from `anchor`: warnings that would fall before it are skipped. */
export function newCycle(
  base: { tenant_id: string; path: string; partner_id: string },
  policy: RotationPolicyRow,
  anchor: number,
  lastRotatedAt: number | null,
  now: number,
): ScheduleRow {
  const thresholds = storedThresholds(policy.warn_before);
  const dueAt = anchor + policy.interval_seconds * 1000;
  const warned = thresholdsPassed(thresholds, dueAt, Math.max(anchor, now));
  return {
    tenant_id: base.tenant_id,
    path: base.path,
    partner_id: base.partner_id,
    policy_id: policy.id,
    anchor_at: anchor,
    last_rotated_at: lastRotatedAt,
    due_at: dueAt,
    state: "scheduled",
    warned,
    next_fire_at: nextScheduledFire(thresholds, dueAt, warned),
    pending_history_id: null,
    updated_at: now,
  };
}

/** A statement's fragment: SQL text with `?` placeholders, and their values in order. */
export interface SqlFragment {
  sql: string;
  params: number[];
}

/**
 * A cycle's shape under a changed interval or warn_before, as SQL over the row's `anchor_at`, so
 * that one statement reshapes every scheduled cycle of a policy: a row at a time, a policy over
 * 20,000 secrets held a SQLite node ~0.5 s (docs/benchmarks.md round 34). The rule is
 * `newCycle`'s, from the cycle's own anchor, judged now: the due time is the anchor plus the
 * interval; threshold i has passed when `anchor + interval - ms_i <= now`, i.e. `anchor_at <= now -
 * interval + ms_i`, and with thresholds longest first the passed ones are a prefix, so the first
 * threshold not passed gives both the warnings passed (already-passed warnings stay silent) and the
 * next moment (that warning, else the due time).
 */
export function reshapedCycleSql(policy: RotationPolicyRow, now: number): { dueAt: SqlFragment; warned: SqlFragment; nextFire: SqlFragment } {
  const thresholds = storedThresholds(policy.warn_before);
  const interval = policy.interval_seconds * 1000;
  const dueAt = { sql: "anchor_at + ?", params: [interval] };
  if (thresholds.length === 0) return { dueAt, warned: { sql: "0", params: [] }, nextFire: dueAt };
  const passedUntil = thresholds.map((t) => now - interval + t.ms);
  return {
    dueAt,
    // The counts are the code's own small integers, written as literals.
    warned: { sql: `CASE ${passedUntil.map((_, i) => `WHEN anchor_at > ? THEN ${i}`).join(" ")} ELSE ${thresholds.length} END`, params: passedUntil },
    nextFire: {
      sql: `CASE ${passedUntil.map(() => "WHEN anchor_at > ? THEN anchor_at + ?").join(" ")} ELSE anchor_at + ? END`,
      params: [...thresholds.flatMap((t, i) => [passedUntil[i], interval - t.ms]), interval],
    },
  };
}
