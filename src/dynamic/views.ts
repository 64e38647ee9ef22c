import { iso, isoOrNull } from "../shared/time.js";
import { engineIdentity } from "./root-credentials.js";
import type { EngineRow, LeaseRow, RoleRow } from "./store.js";

export function engineView(row: EngineRow, leasesActive: number) {
  return {
    id: row.id,
    name: row.name,
    type: row.engine_type,
    config: JSON.parse(row.config) as Record<string, unknown>,
    default_ttl: row.default_ttl,
    max_ttl: row.max_ttl,
    description: row.description,
    identity_id: engineIdentity(row.name),
    status: row.status,
    leases_active: leasesActive,
    ...(row.engine_type === "ssh" ? { ca_public_key: row.ca_public_key } : {}),
    last_root_rotation_at: isoOrNull(row.last_root_rotation_at),
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

export function roleView(engine: EngineRow, row: RoleRow) {
  return {
    name: row.name,
    engine: engine.name,
    ...(JSON.parse(row.body) as Record<string, unknown>),
    default_ttl: row.default_ttl,
    max_ttl: row.max_ttl,
    description: row.description,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

/** A lease without its credential (`data` is shown once, in the creds answer only). */
export function leaseView(row: LeaseRow, now = Date.now()) {
  const state = row.state;
  return {
    lease_id: row.id,
    engine: row.engine_name,
    role: row.role_name,
    state,
    identity_id: row.identity_id,
    username: row.username,
    lease_duration: Math.max(0, Math.round((row.expires_at - now) / 1000)),
    renewable: row.state === "active" && row.expires_at < row.max_expires_at,
    expires_at: iso(row.expires_at),
    max_expires_at: iso(row.max_expires_at),
    created_at: iso(row.created_at),
    last_renewed_at: isoOrNull(row.last_renewed_at),
    revoked_at: isoOrNull(row.revoked_at),
    revoke_reason: row.state === "active" ? null : row.revoke_reason,
    revoke_attempts: row.revoke_attempts,
    last_error: row.last_error,
    next_retry_at: row.state === "revoke_failed" ? isoOrNull(row.next_retry_at) : null,
    ...(row.serial ? { serial_number: row.serial } : {}),
  };
}

/** Event data (contract D6): never a password. */
export function leaseEventData(row: LeaseRow, reason: string | null, extra: Record<string, unknown> = {}) {
  return { lease_id: row.id, engine: row.engine_name, role: row.role_name, username: row.username, identity_id: row.identity_id, expires_at: iso(row.expires_at), reason, ...extra };
}
