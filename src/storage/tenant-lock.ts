import type { Dialect, Queryable, SqlParam } from "./contract.js";

/**
 * Makes one tenant's creations of one kind take turns until their transactions end, so that a
 * quota counted inside the transaction cannot be passed by two creations at once: on PostgreSQL an
 * advisory lock on (`kind`, the tenant); SQLite runs one write transaction at a time already.
 * `kind` is any fixed number of the caller's own, one per kind of thing counted.
 */
export async function takeTenantTurn(tx: Queryable, dialect: Dialect, kind: number, tenantId: string): Promise<void> {
  if (dialect === "postgres") await tx.get("SELECT pg_advisory_xact_lock(?, hashtext(?))", [kind, tenantId]);
}

/** A `SELECT COUNT(*) AS n …` statement's count (PostgreSQL answers it as a string). */
export async function countOf(tx: Queryable, sql: string, params: readonly SqlParam[]): Promise<number> {
  return Number((await tx.get<{ n: number | string }>(sql, params))?.n ?? 0);
}

/**
 * What the tenant holds of one kind, counted in the tenant's turn for that kind (takeTenantTurn):
 * the count a quota is checked against inside the creating transaction.
 */
export async function heldInTenantTurn(tx: Queryable, dialect: Dialect, kind: number, tenantId: string, countSql: string, params: readonly SqlParam[]): Promise<number> {
  await takeTenantTurn(tx, dialect, kind, tenantId);
  return countOf(tx, countSql, params);
}
