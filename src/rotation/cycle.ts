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

/** The same cycle under a changed interval or warn_before: already-passed warnings stay silent. */
export function reshapeCycle(schedule: ScheduleRow, policy: RotationPolicyRow, now: number): ScheduleRow {
  if (schedule.state !== "scheduled") return schedule;
  const thresholds = storedThresholds(policy.warn_before);
  const dueAt = schedule.anchor_at + policy.interval_seconds * 1000;
  const warned = thresholdsPassed(thresholds, dueAt, now);
  return { ...schedule, due_at: dueAt, warned, next_fire_at: nextScheduledFire(thresholds, dueAt, warned), updated_at: now };
}
