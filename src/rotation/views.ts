import { iso, isoOrNull } from "../shared/time.js";
import type { RotationPolicyRow, SecretPolicyRow } from "./policy-store.js";
import type { RotationHistoryItem, RotationPolicyObject, SecretPolicyObject } from "./schemas.js";
import type { HistoryRow, ScheduleRow } from "./schedule-store.js";

export function rotationPolicyView(row: RotationPolicyRow, secretsCount: number): RotationPolicyObject {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    interval: row.interval_text,
    interval_seconds: row.interval_seconds,
    grace_period: row.grace_period,
    grace_period_seconds: row.grace_seconds,
    warn_before: row.warn_before,
    auto_generate: row.auto_generate === 1,
    secret_policy_id: row.secret_policy_id,
    webhook_ids: JSON.parse(row.webhook_ids) as string[],
    is_active: row.is_active === 1,
    secrets_count: secretsCount,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

export function secretPolicyView(row: SecretPolicyRow): SecretPolicyObject {
  return {
    id: row.id,
    name: row.name,
    policy_type: row.policy_type,
    description: row.description,
    fields: JSON.parse(row.fields),
    is_active: row.is_active === 1,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

export function historyView(row: HistoryRow): RotationHistoryItem {
  return {
    id: row.id,
    policy_id: row.policy_id,
    secret_path: row.path,
    status: row.status,
    trigger: row.trigger_kind,
    old_version: row.old_version,
    new_version: row.new_version,
    auto_generated: row.auto_generated === 1,
    error: row.reason,
    due_at: isoOrNull(row.due_at),
    started_at: iso(row.created_at),
    completed_at: isoOrNull(row.completed_at),
  };
}

export function assignmentView(schedule: ScheduleRow, policyActive: boolean) {
  return {
    policy_id: schedule.policy_id,
    secret_path: schedule.path,
    assigned_at: iso(schedule.anchor_at),
    state: policyActive ? schedule.state : "paused",
    last_rotated_at: isoOrNull(schedule.last_rotated_at),
    next_rotation_at: iso(schedule.due_at),
  };
}
