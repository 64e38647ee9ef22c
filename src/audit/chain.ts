import { createHmac } from "node:crypto";
import { insertMentions, type PathMention } from "./mentions.js";
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
  /** Microseconds within `timestamp`'s millisecond; null on entries written before migration 0094. */
  timestamp_us: number | null;
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
  "id, chain_id, seq, partner_id, tenant_id, timestamp, timestamp_us, action, identity_type, identity_id, secret_path, source_ip, user_agent, success, status, duration_ms, request_id, extra_data, prev_hash, hash";
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

/** An entry before its chain places it; a batch read's also with the paths it names (mentions.ts). */
export type UnchainedRow = Omit<AuditRow, "chain_id" | "seq" | "prev_hash" | "hash"> & { mentions?: readonly PathMention[] };

/** Tenant entries chain per tenant; partner-level entries (tenant_id null) per partner. This is lane 0's id. */
export function chainIdOf(partnerId: string, tenantId: string | null): string {
  return tenantId === null ? `partner:${partnerId}` : `tenant:${tenantId}`;
}

/**
 * Lanes per tenant (and per partner) chain on PostgreSQL. Every lane is an ordinary chain (own
 * head row, contiguous seq, prev_hash links, checkpoints, retention cut); a write takes whichever
 * lane's head is free, so up to this many writes of one tenant hold a chain head at once instead
 * of queueing on one. Why 8: a head is held for one round trip plus the commit's WAL flush, and a
 * node's pool (DATABASE_POOL_SIZE, 10–20 typical) runs at most that many writes at once; with 8
 * lanes the chance that all heads are taken stays small at 16 concurrent writes (the waits spread
 * over 8 rows), while verification walks a handful of chains per tenant, not dozens — its cost
 * (a few queries per empty lane) grows with the lane count. SQLite has one writer: one lane.
 */
export const PG_CHAIN_LANES = 8;

/** The lanes a chain has on this dialect. */
export function laneCount(dialect: Dialect): number {
  return dialect === "postgres" ? PG_CHAIN_LANES : 1;
}

/** Lane `lane` of the chain `base` (`tenant:<id>` / `partner:<id>`): lane 0 is the base id itself, lane k>0 is `<base>#<k>`. */
export function laneChainId(base: string, lane: number): string {
  return lane === 0 ? base : `${base}#${lane}`;
}

/** Every lane id of the chain `base`, lane 0 first. */
export function laneChainIds(base: string, lanes: number): string[] {
  return Array.from({ length: lanes }, (_, lane) => laneChainId(base, lane));
}

/**
 * A stored chain id taken apart: its owner's kind and id, the base chain (lane 0's id) and the
 * lane number. Null for anything that is not a well-formed chain id (a lane number is 1..n
 * without leading zeros, so every lane has exactly one spelling).
 */
export function parseChainId(chainId: string): { kind: "tenant" | "partner"; owner: string; base: string; lane: number } | null {
  const match = /^(tenant|partner):([^#]+)(?:#([1-9][0-9]{0,5}))?$/.exec(chainId);
  if (!match) return null;
  const kind = match[1] as "tenant" | "partner";
  return { kind, owner: match[2], base: `${kind}:${match[2]}`, lane: match[3] === undefined ? 0 : Number(match[3]) };
}

/**
 * The entry's hash: HMAC-SHA256 under a vault-held key over every stored field and the previous
 * hash. Keyed rather than a bare SHA-256 so that someone who can write the database but does not
 * hold the root key cannot recompute a consistent chain after editing it.
 */
export class ChainHasher {
  constructor(private readonly key: Buffer) {}

  /**
   * v2 covers the microseconds too; an entry written before them (timestamp_us null) keeps the v1
   * form it was chained with, so existing chains verify unchanged.
   */
  hash(row: Omit<AuditRow, "hash">): string {
    const micros = row.timestamp_us === null || row.timestamp_us === undefined ? null : Number(row.timestamp_us);
    const canonical = JSON.stringify([
      micros === null ? "scaivault-audit-v1" : "scaivault-audit-v2",
      row.id,
      row.chain_id,
      Number(row.seq),
      row.partner_id,
      row.tenant_id,
      ...(micros === null ? [Number(row.timestamp)] : [Number(row.timestamp), micros]),
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
  chain_id: string;
  seq: number;
  hash: string;
}

/** A head's columns; `asyncCommit` (PostgreSQL): with `set_config`, which only a statement returning a row evaluates. */
function headColumns(dialect: Dialect, asyncCommit: boolean): string {
  return `${dialect === "postgres" && asyncCommit ? "set_config('synchronous_commit', 'off', true) AS sync, " : ""}chain_id, seq, hash`;
}

/** The first of `lanes` lane heads (bound in order) that nobody holds, locked (PostgreSQL: `SKIP LOCKED`). */
function freeLaneSql(lanes: number, dialect: Dialect, asyncCommit: boolean): string {
  const pg = dialect === "postgres";
  return `SELECT ${headColumns(dialect, asyncCommit)} FROM audit_chain_heads WHERE chain_id IN (${new Array(lanes).fill("?").join(", ")}) ORDER BY chain_id LIMIT 1${pg ? " FOR UPDATE SKIP LOCKED" : ""}`;
}

/**
 * Appends entries to their chains inside the caller's transaction. Chains are locked in sorted
 * order of their base id (no deadlock between two batches touching the same chains). On
 * PostgreSQL a chain has `PG_CHAIN_LANES` lanes and an append takes the first lane whose head row
 * is not locked (`FOR UPDATE SKIP LOCKED`), waiting on one lane only when all are taken; the head
 * it took stays row-locked until its entries are inserted and the head advanced, so no two
 * appenders on any number of nodes can extend one lane at once (and the unique (chain_id, seq)
 * index would refuse a fork anyway). On SQLite the writer lock already serialises transactions
 * and a chain has one lane.
 */
export class ChainAppender {
  private readonly lanes: number;
  /** Lane locks sent ahead by `lockAhead`, per transaction, taken by the transaction's `append`. */
  private readonly ahead = new WeakMap<Queryable, { chainId: string; rows: () => Promise<Head[] | null> }>();

  constructor(private readonly hasher: ChainHasher, private readonly dialect: Dialect) {
    this.lanes = laneCount(dialect);
  }

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
    // Before any lane is locked: they need only the entries' ids and times, already set.
    await insertMentions(tx, entries);
    const written: AuditRow[] = [];
    for (const chainId of [...byChain.keys()].sort()) {
      const list = byChain.get(chainId)!;
      const head =
        (options.asyncCommit ? undefined : await this.takeAhead(tx, chainId)) ??
        (await this.lockLane(tx, chainId, list[0].partner_id, list[0].tenant_id, options.asyncCommit === true));
      const laneId = head.chain_id;
      let { seq, hash } = head;
      const rows: AuditRow[] = [];
      for (const entry of list) {
        seq += 1;
        // Spelled out rather than spread twice: one object of a fixed shape per entry.
        const row: AuditRow = {
          id: entry.id, partner_id: entry.partner_id, tenant_id: entry.tenant_id, timestamp: entry.timestamp, timestamp_us: entry.timestamp_us, action: entry.action,
          identity_type: entry.identity_type, identity_id: entry.identity_id, secret_path: entry.secret_path, source_ip: entry.source_ip,
          user_agent: entry.user_agent, success: entry.success, status: entry.status, duration_ms: entry.duration_ms, request_id: entry.request_id,
          extra_data: entry.extra_data, chain_id: laneId, seq, prev_hash: hash, hash: "",
        };
        hash = this.hasher.hash(row);
        row.hash = hash;
        rows.push(row);
      }
      await this.insertAndAdvance(tx, rows, laneId, seq, hash, byChain.size === 1 ? options.atCommit : undefined);
      written.push(...rows);
    }
    return written;
  }

  /**
   * PostgreSQL, before a write's first statement, when that statement takes the write's own row
   * lock (a secret's): the free-lane lock of the chain its entry will join goes out in the same
   * message, right after that lock (`Queryable.alongFirst`), instead of a round trip of its own at
   * the end. The lane is then held from the first message to the COMMIT, as long as before (one
   * round trip and the commit): the round trip it saves is the one it was held across. Only a
   * write that takes no other row lock after its first one may call this. The one row such a
   * write can then wait for under a held lane is a new secret's, inserted by a second write of the
   * same path; with every lane held, that can close a cycle with `lockLane`'s wait, which
   * PostgreSQL breaks (40P01) and the write's caller retries (`SecretsService.mutate`).
   * When no lane was free, `append` locks one as before.
   */
  lockAhead(tx: Queryable, partnerId: string, tenantId: string | null): void {
    if (this.dialect !== "postgres" || this.ahead.has(tx)) return;
    const chainId = chainIdOf(partnerId, tenantId);
    const lanes = laneChainIds(chainId, this.lanes);
    const rows = tx.alongFirst?.<Head>(freeLaneSql(lanes.length, this.dialect, false), lanes);
    if (rows) this.ahead.set(tx, { chainId, rows });
  }

  /** The head `lockAhead` locked for this transaction's entries of `chainId`, if it found a free lane. */
  private async takeAhead(tx: Queryable, chainId: string): Promise<Head | undefined> {
    const early = this.ahead.get(tx);
    if (!early || early.chainId !== chainId) return undefined;
    this.ahead.delete(tx);
    const head = (await early.rows())?.[0];
    return head ? { chain_id: head.chain_id, seq: Number(head.seq), hash: head.hash } : undefined;
  }

  /**
   * Locks a lane of the chain `base` and returns its head, in one round trip when a lane is free:
   * the first lane (in chain_id order, so a tenant without concurrent writes stays on lane 0) whose
   * head row nobody holds. Lane heads are created together the first time none is free or none
   * exists; when every lane is taken the append waits on one lane chosen at random. The lane ids
   * go in as an `IN (?, …)` list: `SqlParam` has no arrays, and the same statement runs on SQLite.
   * `asyncCommit`: `set_config` runs in the statement that returns the head (a statement that
   * returns no row does not evaluate it).
   */
  private async lockLane(tx: Queryable, base: string, partnerId: string, tenantId: string | null, asyncCommit: boolean): Promise<Head> {
    const lanes = laneChainIds(base, this.lanes);
    const pg = this.dialect === "postgres";
    const columns = headColumns(this.dialect, asyncCommit);
    const free = freeLaneSql(lanes.length, this.dialect, asyncCommit);
    let head = await tx.get<Head>(free, lanes);
    if (!head) {
      const now = Date.now();
      const created = await tx.run(
        `INSERT INTO audit_chain_heads (chain_id, partner_id, tenant_id, seq, hash, updated_at) VALUES ${lanes.map(() => "(?, ?, ?, 0, ?, ?)").join(", ")} ON CONFLICT (chain_id) DO NOTHING`,
        lanes.flatMap((lane) => [lane, partnerId, tenantId, GENESIS_HASH, now]),
      );
      // Lanes this transaction just created are free for it; otherwise every lane is held: wait on one.
      head =
        created.changes > 0
          ? await tx.get<Head>(free, lanes)
          : await tx.get<Head>(`SELECT ${columns} FROM audit_chain_heads WHERE chain_id = ?${pg ? " FOR UPDATE" : ""}`, [lanes[Math.floor(Math.random() * lanes.length)]]);
      if (!head) throw new Error("audit chain head could not be created");
    }
    return { chain_id: head.chain_id, seq: Number(head.seq), hash: head.hash };
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
        params.push(r.id, r.chain_id, r.seq, r.partner_id, r.tenant_id, r.timestamp, r.timestamp_us, r.action, r.identity_type, r.identity_id, r.secret_path,
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
