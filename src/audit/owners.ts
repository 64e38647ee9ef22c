import type { SqlArm } from "./filters.js";

/** Whose chain: a tenant's, or (tenant_id null) a partner's own (failed authentication and the like). */
export interface ChainOwner {
  tenant_id: string | null;
  partner_id: string;
}

/** A chain owner's entries: the SQL that selects them, and the SQLite index that reads them by time. */
export interface ChainScope extends SqlArm {
  timeIndex: string;
}

/** The owner's key (in the rollup tables) and its entries: the one place a chain owner becomes SQL. */
export function ownerOf(owner: ChainOwner): { key: string; scope: ChainScope } {
  return owner.tenant_id !== null
    ? { key: `t:${owner.tenant_id}`, scope: { sql: "tenant_id = ?", params: [owner.tenant_id], timeIndex: "audit_log_tenant_time" } }
    : { key: `p:${owner.partner_id}`, scope: { sql: "tenant_id IS NULL AND partner_id = ?", params: [owner.partner_id], timeIndex: "audit_log_partner_time" } };
}
