import { randomInt } from "node:crypto";
import { pruneById, type PruneStep } from "../ops/retention.js";
import { boundedPage, type Condition } from "../storage/bounded-page.js";
import type { Database, Queryable, SqlParam } from "../storage/contract.js";

export interface CaRow {
  id: string;
  tenant_id: string;
  partner_id: string;
  name: string;
  common_name: string;
  ca_type: "root" | "intermediate";
  parent_ca_id: string | null;
  key_type: "rsa" | "ec";
  key_size: number;
  serial_number: string;
  certificate_pem: string;
  key_ciphertext: Buffer;
  key_wrapped: Buffer;
  key_id: string;
  not_before: number;
  not_after: number;
  revoked_at: number | null;
  revocation_reason: string | null;
  crl_number: number;
  created_by: string;
  created_at: number;
}

export interface RoleRow {
  tenant_id: string;
  name: string;
  partner_id: string;
  ca_id: string;
  settings: string;
  created_at: number;
  updated_at: number;
}

/** What OCSP answers for a serial. */
export interface Revocation {
  revoked_at: number | null;
  revocation_reason: string | null;
}

export interface CertRow {
  id: string;
  tenant_id: string;
  partner_id: string;
  ca_id: string;
  serial_number: string;
  common_name: string | null;
  alt_names: string;
  ip_sans: string;
  source: "issue" | "sign" | "csr" | "acme";
  role: string | null;
  order_id: string | null;
  certificate_pem: string;
  not_before: number;
  not_after: number;
  revoked_at: number | null;
  revocation_reason: string | null;
  secret_path: string | null;
  created_by: string;
  created_at: number;
  /** The next expiry notice owed (src/pki/expiry.ts), null once all are given or the certificate is revoked. */
  next_notice_at?: number | null;
  notices_fired?: string;
}

const CA_COLUMNS = ["id", "tenant_id", "partner_id", "name", "common_name", "ca_type", "parent_ca_id", "key_type", "key_size", "serial_number", "certificate_pem", "key_ciphertext", "key_wrapped", "key_id", "not_before", "not_after", "revoked_at", "revocation_reason", "crl_number", "created_by", "created_at"] as const;
const CERT_COLUMNS = ["id", "tenant_id", "partner_id", "ca_id", "serial_number", "common_name", "alt_names", "ip_sans", "source", "role", "order_id", "certificate_pem", "not_before", "not_after", "revoked_at", "revocation_reason", "secret_path", "created_by", "created_at", "next_notice_at", "notices_fired"] as const;

export const placeholders = (n: number) => Array.from({ length: n }, () => "?").join(", ");
export const pick = (row: object, columns: readonly string[]) => columns.map((c) => (row as Record<string, SqlParam>)[c] ?? null);

/** Numbers come back from PostgreSQL BIGINT columns as strings; the rows are used as numbers. */
function numeric<T>(row: T | undefined, keys: readonly string[]): T | undefined {
  if (!row) return row;
  const r = row as Record<string, unknown>;
  for (const key of keys) if (r[key] !== null && r[key] !== undefined) r[key] = Number(r[key]);
  return row;
}
const CA_NUMBERS = ["key_size", "not_before", "not_after", "revoked_at", "crl_number", "created_at", "certificates_issued"];
const CERT_NUMBERS = ["not_before", "not_after", "revoked_at", "created_at"];

export type CascadedLeaf = Pick<CertRow, "id" | "serial_number" | "common_name" | "role" | "secret_path" | "not_after">;

export interface RevokedSerial {
  serial_number: string;
  /** Milliseconds; PostgreSQL's driver gives a BIGINT as a string. */
  revoked_at: number | string;
  revocation_reason: string | null;
}

/** CAs, roles and certificates: every read names the tenant, so another tenant's rows never match. */
/** Count rows per CA on PostgreSQL (insertCert). */
const ISSUED_SHARDS = 8;

export class PkiStore {
  readonly forUpdate: string;

  constructor(readonly db: Database) {
    this.forUpdate = db.dialect === "postgres" ? " FOR UPDATE" : "";
  }

  async insertCa(tx: Queryable, row: CaRow): Promise<void> {
    await tx.run(`INSERT INTO pki_cas (${CA_COLUMNS.join(", ")}) VALUES (${placeholders(CA_COLUMNS.length)})`, pick(row, CA_COLUMNS));
  }

  async getCa(tenantId: string, id: string, q: Queryable = this.db, lock = false): Promise<CaRow | undefined> {
    return numeric(await q.get<CaRow>(`SELECT * FROM pki_cas WHERE tenant_id = ? AND id = ?${lock ? this.forUpdate : ""}`, [tenantId, id]), CA_NUMBERS);
  }

  /** How many certificates a CA has issued, for its view: its count rows, kept by insertCert (round 24). */
  async issuedCount(caId: string, q: Queryable = this.db): Promise<number> {
    return Number((await q.get<{ n: number }>("SELECT COALESCE(SUM(n), 0) AS n FROM pki_ca_issued WHERE ca_id = ?", [caId]))?.n ?? 0);
  }

  /** For the public endpoints, which know only the CA id (ids are global). */
  async getCaAnyTenant(id: string): Promise<CaRow | undefined> {
    return numeric(await this.db.get<CaRow>("SELECT * FROM pki_cas WHERE id = ?", [id]), CA_NUMBERS);
  }

  async listCas(tenantId: string): Promise<(CaRow & { certificates_issued: number })[]> {
    const rows = await this.db.all<CaRow & { certificates_issued: number }>(
      `SELECT c.*, (SELECT COALESCE(SUM(x.n), 0) FROM pki_ca_issued x WHERE x.ca_id = c.id) AS certificates_issued FROM pki_cas c WHERE c.tenant_id = ? ORDER BY c.created_at, c.id`,
      [tenantId],
    );
    return rows.map((r) => numeric(r, CA_NUMBERS)!);
  }

  async childCas(tx: Queryable, parentId: string): Promise<CaRow[]> {
    return (await tx.all<CaRow>("SELECT * FROM pki_cas WHERE parent_ca_id = ? ORDER BY id", [parentId])).map((r) => numeric(r, CA_NUMBERS)!);
  }

  async revokeCa(tx: Queryable, id: string, at: number, reason: string): Promise<void> {
    await tx.run("UPDATE pki_cas SET revoked_at = ?, revocation_reason = ? WHERE id = ? AND revoked_at IS NULL", [at, reason, id]);
  }

  /** Holds the CA's row until the transaction ends (SQLite's writer already holds everything). */
  async lockCa(tx: Queryable, caId: string): Promise<void> {
    if (this.forUpdate) await tx.get(`SELECT id FROM pki_cas WHERE id = ?${this.forUpdate}`, [caId]);
  }

  async nextCrlNumber(tx: Queryable, caId: string): Promise<number> {
    await tx.run("UPDATE pki_cas SET crl_number = crl_number + 1 WHERE id = ?", [caId]);
    const row = await tx.get<{ crl_number: number }>("SELECT crl_number FROM pki_cas WHERE id = ?", [caId]);
    return Number(row?.crl_number ?? 1);
  }

  async insertRole(tx: Queryable, row: RoleRow): Promise<void> {
    await tx.run("INSERT INTO pki_roles (tenant_id, name, partner_id, ca_id, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      [row.tenant_id, row.name, row.partner_id, row.ca_id, row.settings, row.created_at, row.updated_at]);
  }

  async updateRole(tx: Queryable, row: RoleRow): Promise<void> {
    await tx.run("UPDATE pki_roles SET ca_id = ?, settings = ?, updated_at = ? WHERE tenant_id = ? AND name = ?", [row.ca_id, row.settings, row.updated_at, row.tenant_id, row.name]);
  }

  async getRole(tenantId: string, name: string, q: Queryable = this.db): Promise<RoleRow | undefined> {
    return numeric(await q.get<RoleRow>(`SELECT * FROM pki_roles WHERE tenant_id = ? AND name = ?`, [tenantId, name]), ["created_at", "updated_at"]);
  }

  async listRoles(tenantId: string): Promise<RoleRow[]> {
    return (await this.db.all<RoleRow>("SELECT * FROM pki_roles WHERE tenant_id = ? ORDER BY name", [tenantId])).map((r) => numeric(r, ["created_at", "updated_at"])!);
  }

  async deleteRole(tx: Queryable, tenantId: string, name: string): Promise<number> {
    return (await tx.run("DELETE FROM pki_roles WHERE tenant_id = ? AND name = ?", [tenantId, name])).changes;
  }

  /** A certificate and its CA's issued count, in the caller's transaction. */
  async insertCert(tx: Queryable, row: CertRow): Promise<void> {
    await tx.run(`INSERT INTO pki_certificates (${CERT_COLUMNS.join(", ")}) VALUES (${placeholders(CERT_COLUMNS.length)})`, pick(row, CERT_COLUMNS));
    // One of ISSUED_SHARDS rows per CA on PostgreSQL, so concurrent issues under one CA seldom wait
    // on each other's count (SQLite has one writer: one row).
    const shard = this.db.dialect === "postgres" ? randomInt(ISSUED_SHARDS) : 0;
    await tx.run(
      "INSERT INTO pki_ca_issued (ca_id, shard, n) VALUES (?, ?, 1) ON CONFLICT (ca_id, shard) DO UPDATE SET n = pki_ca_issued.n + 1",
      [row.ca_id, shard],
    );
  }

  /** By id or serial number (contract P4, **ext**). */
  async getCert(tenantId: string, idOrSerial: string, q: Queryable = this.db): Promise<CertRow | undefined> {
    const column = idOrSerial.startsWith("cert_") ? "id" : "serial_number";
    return numeric(await q.get<CertRow>(`SELECT * FROM pki_certificates WHERE tenant_id = ? AND ${column} = ?${q === this.db ? "" : this.forUpdate}`, [tenantId, idOrSerial.toLowerCase().startsWith("cert_") ? idOrSerial : idOrSerial.toLowerCase()]), CERT_NUMBERS);
  }

  /**
   * Whether each serial the CA issued (a certificate, or a CA it signed) is revoked, in two statements
   * whatever the count: an OCSP request may name 100, and a statement or two each held a SQLite node
   * for ~20 ms of an anonymous request.
   */
  async revocationsBySerial(caId: string, serials: readonly string[]): Promise<Map<string, Revocation>> {
    const found = new Map<string, Revocation>();
    for (const table of ["pki_certificates WHERE ca_id", "pki_cas WHERE parent_ca_id"]) {
      const wanted = serials.filter((serial) => !found.has(serial));
      if (wanted.length === 0) break;
      const rows = await this.db.all<Revocation & { serial_number: string }>(
        `SELECT serial_number, revoked_at, revocation_reason FROM ${table} = ? AND serial_number IN (${wanted.map(() => "?").join(", ")})`,
        [caId, ...wanted],
      );
      for (const row of rows) found.set(row.serial_number, { revoked_at: row.revoked_at === null ? null : Number(row.revoked_at), revocation_reason: row.revocation_reason });
    }
    return found;
  }

  /**
   * One page of a tenant's certificates in id order, along the index its narrowest scope has (the
   * creator's, the CA's, the tenant's); the other filters are checked on a bounded walk of it
   * (storage/bounded-page.ts): a filter that matches few gets short pages. `next`: the id after which the next page starts.
   */
  async listCerts(tenantId: string, filter: { caId?: string; role?: string; source?: string; expiringBefore?: number; includeRevoked: boolean; createdBy?: string; after?: string }, limit: number): Promise<{ rows: CertRow[]; next: string | null }> {
    const tenant: Condition = { sql: "tenant_id = ?", params: [tenantId] };
    const byCa: Condition | null = filter.caId ? { sql: "ca_id = ?", params: [filter.caId] } : null;
    const [index, scope]: [string, Condition[]] = filter.createdBy
      ? ["pki_certificates_creator", [tenant, { sql: "created_by = ?", params: [filter.createdBy] }]]
      : byCa ? ["pki_certificates_ca_list", [tenant, byCa]] : ["pki_certificates_tenant", [tenant]];
    const filters: Condition[] = [];
    if (byCa && filter.createdBy) filters.push(byCa);
    if (filter.role) filters.push({ sql: "role = ?", params: [filter.role] });
    if (filter.source) filters.push({ sql: "source = ?", params: [filter.source] });
    if (filter.expiringBefore !== undefined) filters.push({ sql: "not_after <= ?", params: [filter.expiringBefore] });
    if (!filter.includeRevoked) filters.push({ sql: "revoked_at IS NULL", params: [] });
    const page = await boundedPage<CertRow>(this.db, {
      table: "pki_certificates", index, columns: "*", scope, filters, order: ["id"], descending: false, after: filter.after ? [filter.after] : null, limit,
    });
    return { rows: page.rows.map((r) => numeric(r, CERT_NUMBERS)!), next: page.next === null ? null : String(page.next[0]) };
  }

  async revokeCert(tx: Queryable, id: string, at: number, reason: string): Promise<number> {
    return (await tx.run("UPDATE pki_certificates SET revoked_at = ?, revocation_reason = ?, next_notice_at = NULL WHERE id = ? AND revoked_at IS NULL", [at, reason, id])).changes;
  }

  /** Revokes every leaf of a CA not yet revoked, in one statement; answers them in id order. */
  async revokeLeavesUnder(tx: Queryable, caId: string, at: number, reason: string): Promise<CascadedLeaf[]> {
    const rows = await tx.all<CascadedLeaf>(
      `UPDATE pki_certificates SET revoked_at = ?, revocation_reason = ?, next_notice_at = NULL WHERE ca_id = ? AND revoked_at IS NULL
       RETURNING id, serial_number, common_name, role, secret_path, not_after`,
      [at, reason, caId],
    );
    return rows.map((row) => ({ ...row, not_after: Number(row.not_after) })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * Revoked serials a CA's CRL lists: its leaves and its child CAs still valid at `validSince` (along
   * the partial index of revoked certificates, whatever the CA's history holds).
   */
  async revokedUnder(caId: string, validSince: number, q: Queryable = this.db): Promise<RevokedSerial[]> {
    return q.all<RevokedSerial>(
      `SELECT serial_number, revoked_at, revocation_reason FROM pki_certificates WHERE ca_id = ? AND revoked_at IS NOT NULL AND not_after >= ?
       UNION ALL SELECT serial_number, revoked_at, revocation_reason FROM pki_cas WHERE parent_ca_id = ? AND revoked_at IS NOT NULL AND not_after >= ?`,
      [caId, validSince, caId, validSince],
    );
  }
}

/**
 * Certificates that ended before the retention cutoff (SCAIVAULT_CREDENTIALS_RETENTION): a mesh
 * issuing day-long certificates leaves a row per service per day. Kept: a certificate whose
 * `certificate.expired` notice has not fired yet, and a revoked one while a CRL must still list it
 * (a CRL lifetime past its end, crl.ts), whatever the window. The CA's issued count is kept apart
 * (`pki_ca_issued`) and does not go down. Along `pki_certificates_live` and `pki_certificates_revoked_end`
 * (the unary `+` keeps SQLite off the notice index, which holds every certificate whose notices are done).
 */
export function endedCertificates(crlLifetimeMs: number): PruneStep<"certificates_expired" | "certificates_revoked">[] {
  return [
    {
      name: "certificates_expired",
      sql: pruneById("pki_certificates", "revoked_at IS NULL AND not_after < ? AND +next_notice_at IS NULL"),
      params: (cutoff) => [cutoff],
    },
    {
      name: "certificates_revoked",
      sql: pruneById("pki_certificates", "revoked_at IS NOT NULL AND not_after < ?"),
      params: (cutoff, now) => [Math.min(cutoff, now - crlLifetimeMs)],
    },
  ];
}
