import type { Dialect, Queryable } from "./contract.js";

/**
 * Makes one tenant's creations of one kind take turns until their transactions end, so that a
 * quota counted inside the transaction cannot be passed by two creations at once: on PostgreSQL an
 * advisory lock on (`kind`, the tenant); SQLite runs one write transaction at a time already.
 * `kind` is any fixed number of the caller's own, one per kind of thing counted.
 */
export async function takeTenantTurn(tx: Queryable, dialect: Dialect, kind: number, tenantId: string): Promise<void> {
  if (dialect === "postgres") await tx.get("SELECT pg_advisory_xact_lock(?, hashtext(?))", [kind, tenantId]);
}
