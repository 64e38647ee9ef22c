import { createHmac } from "node:crypto";
import type { Dialect, Queryable, SqlParam } from "../storage/contract.js";

/** prev_hash of the first entry of every chain. */
export const GENESIS_HASH = "0".repeat(64);

/** One audit entry as stored (`audit_log` row). */
export interface AuditRow {
  id: string;
  chain_id: string;
  seq: number;
  partner_id: string;
  tenant_id: string | null;
  timestamp: number;
  action: string;
  identity_type: string | null;
  identity_id: string | null;
  secret_path: string | null;
  source_ip: string | null;
  user_agent: string | null;
  success: number;
  status: number;
  duration_ms: number;
  request_id: string;
  /** JSON text exactly as stored: the hash covers these bytes, not a re-serialisation. */
  extra_data: string;
  prev_hash: string;
  hash: string;
}

export const AUDIT_COLUMNS =
  "id, chain_id, seq, partner_id, tenant_id, timestamp, action, identity_type, identity_id, secret_path, source_ip, user_agent, success, status, duration_ms, request_id, extra_data, prev_hash, hash";
const COLUMN_COUNT = AUDIT_COLUMNS.split(",").length;

/** `INSERT INTO audit_log … VALUES (…), (…)` for n rows, built once per n (most batches are one row). */
const insertSqlByCount = new Map<number, string>();
function insertSql(count: number): string {
  let sql = insertSqlByCount.get(count);
  if (!sql) {
    const row = `(${new Array(COLUMN_COUNT).fill("?").join(", ")})`;
    sql = `INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES ${new Array(count).fill(row).join(", ")}`;
    insertSqlByCount.set(count, sql);
  }
  return sql;
}

export type UnchainedRow = Omit<AuditRow, "chain_id" | "seq" | "prev_hash" | "hash">;

/** Tenant entries chain per tenant; partner-level entries (tenant_id null) per partner. */
export function chainIdOf(partnerId: string, tenantId: string | null): string {
  return tenantId === null ? `partner:${partnerId}` : `tenant:${tenantId}`;
}

/**
 * The entry's hash: HMAC-SHA256 under a vault-held key over every stored field and the previous
 * hash. Keyed rather than a bare SHA-256 so that someone who can write the database but does not
 * hold the root key cannot recompute a consistent chain after editing it.
 */
export class ChainHasher {
  constructor(private readonly key: Buffer) {}

  hash(row: Omit<AuditRow, "hash">): string {
    const canonical = JSON.stringify([
      "scaivault-audit-v1",
      row.id,
      row.chain_id,
      Number(row.seq),
      row.partner_id,
      row.tenant_id,
      Number(row.timestamp),
      row.action,
      row.identity_type,
      row.identity_id,
      row.secret_path,
      row.source_ip,
      row.user_agent,
      Number(row.success),
      Number(row.status),
      Number(row.duration_ms),
      row.request_id,
      row.extra_data,
      row.prev_hash,
    ]);
    return createHmac("sha256", this.key).update(canonical, "utf8").digest("hex");
  }
}

interface Head {
  seq: number;
  hash: string;
}

/**
 * Appends entries to their chains inside the caller's transaction. Chains are locked in sorted
 * order (no deadlock between two batches touching the same chains); on PostgreSQL the head row is
 * taken `FOR UPDATE`, so concurrent appenders on any number of nodes queue behind each other, and
 * on SQLite the writer lock already serialises transactions.
 */
export class ChainAppender {
  constructor(private readonly hasher: ChainHasher, private readonly dialect: Dialect) {}

  /**
   * `asyncCommit` (PostgreSQL): the transaction commits with synchronous_commit off, set in the
   * same statement that locks the head — every round trip counts inside a group commit.
   */
  /**
   * `atCommit` (the caller's last statement, PostgreSQL): the entries' insert and the head's advance
   * go out with the COMMIT (`Queryable.runAtCommit`), so the head stays locked for two round trips
   * (its lock, then insert + advance + COMMIT) instead of three; `atCommit` maps a failure there.
   */
  async append(tx: Queryable, entries: readonly UnchainedRow[], options: { asyncCommit?: boolean; atCommit?: (error: unknown) => Error } = {}): Promise<AuditRow[]> {
    const byChain = new Map<string, UnchainedRow[]>();
    for (const entry of entries) {
      const chainId = chainIdOf(entry.partner_id, entry.tenant_id);
      const list = byChain.get(chainId);
      if (list) list.push(entry);
      else byChain.set(chainId, [entry]);
    }
    const written: AuditRow[] = [];
    for (const chainId of [...byChain.keys()].sort()) {
      const list = byChain.get(chainId)!;
      const head = await this.lockHead(tx, chainId, list[0].partner_id, list[0].tenant_id, options.asyncCommit === true);
      let { seq, hash } = head;
      const rows: AuditRow[] = [];
      for (const entry of list) {
        seq += 1;
        // Spelled out rather than spread twice: one object of a fixed shape per entry.
        const row: AuditRow = {
          id: entry.id, partner_id: entry.partner_id, tenant_id: entry.tenant_id, timestamp: entry.timestamp, action: entry.action,
          identity_type: entry.identity_type, identity_id: entry.identity_id, secret_path: entry.secret_path, source_ip: entry.source_ip,
          user_agent: entry.user_agent, success: entry.success, status: entry.status, duration_ms: entry.duration_ms, request_id: entry.request_id,
          extra_data: entry.extra_data, chain_id: chainId, seq, prev_hash: hash, hash: "",
        };
        hash = this.hasher.hash(row);
        row.hash = hash;
        rows.push(row);
      }
      await this.insertAndAdvance(tx, rows, chainId, seq, hash, byChain.size === 1 ? options.atCommit : undefined);
      written.push(...rows);
    }
    return written;
  }

  private async lockHead(tx: Queryable, chainId: string, partnerId: string, tenantId: string | null, asyncCommit: boolean): Promise<Head> {
    const select =
      this.dialect === "postgres"
        ? `SELECT ${asyncCommit ? "set_config('synchronous_commit', 'off', true) AS sync, " : ""}seq, hash FROM audit_chain_heads WHERE chain_id = ? FOR UPDATE`
        : "SELECT seq, hash FROM audit_chain_heads WHERE chain_id = ?";
    let head = await tx.get<Head>(select, [chainId]);
    if (!head) {
      await tx.run(
        "INSERT INTO audit_chain_heads (chain_id, partner_id, tenant_id, seq, hash, updated_at) VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (chain_id) DO NOTHING",
        [chainId, partnerId, tenantId, GENESIS_HASH, Date.now()],
      );
      head = await tx.get<Head>(select, [chainId]);
      if (!head) throw new Error("audit chain head could not be created");
    }
    return { seq: Number(head.seq), hash: head.hash };
  }

  /** Multi-row inserts (chunks well under parameter limits), then the head moves to the last entry. */
  private async insertAndAdvance(tx: Queryable, rows: readonly AuditRow[], chainId: string, seq: number, hash: string, atCommit?: (error: unknown) => Error): Promise<void> {
    const chunk = 100;
    const advance = "UPDATE audit_chain_heads SET seq = ?, hash = ?, updated_at = ? WHERE chain_id = ?";
    const advanceParams: SqlParam[] = [seq, hash, Date.now(), chainId];
    for (let start = 0; start < rows.length; start += chunk) {
      const part = rows.slice(start, start + chunk);
      const params: SqlParam[] = [];
      for (const r of part) {
        params.push(r.id, r.chain_id, r.seq, r.partner_id, r.tenant_id, r.timestamp, r.action, r.identity_type, r.identity_id, r.secret_path,
          r.source_ip, r.user_agent, r.success, r.status, r.duration_ms, r.request_id, r.extra_data, r.prev_hash, r.hash);
      }
      const insert = insertSql(part.length);
      if (this.dialect === "postgres" && start + chunk >= rows.length) {
        // One round trip for the last chunk and the head (SQLite has no data-modifying CTEs).
        const last = `WITH inserted AS (${insert} RETURNING 1) ${advance}`;
        const lastParams = [...params, ...advanceParams];
        if (atCommit && rows.length <= chunk && tx.runAtCommit?.(last, lastParams, atCommit)) return;
        await tx.run(last, lastParams);
        return;
      }
      await tx.run(insert, params);
    }
    await tx.run(advance, advanceParams);
  }
}
