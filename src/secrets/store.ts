import { writeDeferred, type Database, type Queryable, type SqlParam } from "../storage/contract.js";

export interface SecretRow {
  tenant_id: string;
  path: string;
  partner_id: string;
  secret_type: string;
  metadata: string;
  max_versions: number;
  expires_in: string | null;
  expires_at: number | null;
  notify_before: string | null;
  rotation_policy_id: string | null;
  secret_policy_id: string | null;
  current_version: number;
  created_at: number;
  created_by: string | null;
  updated_at: number;
  last_accessed_at: number | null;
  deleted_at: number | null;
  recoverable_until: number | null;
}

export interface VersionRow {
  tenant_id: string;
  path: string;
  version: number;
  secret_type: string;
  ciphertext: Buffer | null;
  wrapped_key: Buffer | null;
  key_id: string | null;
  created_at: number;
  created_by: string | null;
  destroyed_at: number | null;
  grace_until: number | null;
}

const SECRET_COLUMNS =
  "tenant_id, path, partner_id, secret_type, metadata, max_versions, expires_in, expires_at, notify_before, rotation_policy_id, secret_policy_id, current_version, created_at, created_by, updated_at, last_accessed_at, deleted_at, recoverable_until";
const VERSION_COLUMNS = "tenant_id, path, version, secret_type, ciphertext, wrapped_key, key_id, created_at, created_by, destroyed_at, grace_until";
const s = (columns: string) => columns.split(", ").map((c) => `s.${c}`).join(", ");
const VERSION_ALIASED =
  "v.version AS v_version, v.secret_type AS v_secret_type, v.ciphertext AS v_ciphertext, v.wrapped_key AS v_wrapped_key, v.key_id AS v_key_id, v.created_at AS v_created_at, v.created_by AS v_created_by, v.destroyed_at AS v_destroyed_at, v.grace_until AS v_grace_until";

type JoinedRow = SecretRow & {
  v_version: number | null;
  v_secret_type: string;
  v_ciphertext: Buffer | null;
  v_wrapped_key: Buffer | null;
  v_key_id: string | null;
  v_created_at: number;
  v_created_by: string | null;
  v_destroyed_at: number | null;
  v_grace_until: number | null;
};

function splitJoined(row: JoinedRow): { secret: SecretRow; version: VersionRow | null } {
  const { v_version, v_secret_type, v_ciphertext, v_wrapped_key, v_key_id, v_created_at, v_created_by, v_destroyed_at, v_grace_until, ...secret } = row;
  const version =
    v_version === null || v_version === undefined
      ? null
      : {
          tenant_id: secret.tenant_id,
          path: secret.path,
          version: v_version,
          secret_type: v_secret_type,
          ciphertext: v_ciphertext,
          wrapped_key: v_wrapped_key,
          key_id: v_key_id,
          created_at: v_created_at,
          created_by: v_created_by,
          destroyed_at: v_destroyed_at,
          grace_until: v_grace_until,
        };
  return { secret, version };
}

/** A secret row read for a write (`SecretStore.lock`), with its tenant's active key id. */
export type LockedSecret = SecretRow & { tenant_key_id: string | null };

const UPDATE_SECRET = `UPDATE secrets SET secret_type = ?, metadata = ?, max_versions = ?, expires_in = ?, expires_at = ?, notify_before = ?,
    rotation_policy_id = ?, secret_policy_id = ?, current_version = ?, updated_at = ?, deleted_at = ?, recoverable_until = ?
  WHERE tenant_id = ? AND path = ?`;
const INSERT_VERSION = `INSERT INTO secret_versions (${VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const PRUNE_VERSIONS = "DELETE FROM secret_versions WHERE tenant_id = ? AND path = ? AND version < ?";

function updateParams(row: SecretRow): SqlParam[] {
  return [
    row.secret_type, row.metadata, row.max_versions, row.expires_in, row.expires_at, row.notify_before, row.rotation_policy_id,
    row.secret_policy_id, row.current_version, row.updated_at, row.deleted_at, row.recoverable_until, row.tenant_id, row.path,
  ];
}

function versionParams(row: VersionRow): SqlParam[] {
  return [row.tenant_id, row.path, row.version, row.secret_type, row.ciphertext, row.wrapped_key, row.key_id, row.created_at, row.created_by, row.destroyed_at, row.grace_until];
}

/** Upper bound for a prefix range: `~` sorts after every character a path may contain. */
export const prefixEnd = (prefix: string) => `${prefix}~`;

export class SecretStore {
  private readonly forUpdate: string;

  constructor(private readonly db: Database) {
    this.forUpdate = db.dialect === "postgres" ? " FOR UPDATE" : "";
  }

  /** The tenant's secret cache epoch (migration 0011; on PostgreSQL the sum of its shards, 0500): moves with every change to its secrets or versions. */
  async cacheEpoch(tenantId: string): Promise<number> {
    const row = await this.db.getShared<{ epoch: number | string }>("SELECT SUM(epoch) AS epoch FROM secret_cache_epochs WHERE tenant_id = ?", [tenantId]);
    return Number(row?.epoch ?? 0);
  }

  /** The secret and one of its versions (the current one when `version` is null), in one query. */
  async getWithVersion(tenantId: string, path: string, version: number | null, tx?: Queryable) {
    const row = await (tx ?? this.db).get<JoinedRow>(
      `SELECT ${s(SECRET_COLUMNS)}, ${VERSION_ALIASED}
         FROM secrets s LEFT JOIN secret_versions v
           ON v.tenant_id = s.tenant_id AND v.path = s.path AND v.version = COALESCE(?, s.current_version)
        WHERE s.tenant_id = ? AND s.path = ?`,
      [version, tenantId, path],
    );
    return row ? splitJoined(row) : undefined;
  }

  /**
   * Reads the secret row inside a write transaction, locking it on PostgreSQL, with the tenant's
   * active key id: a tenant's key is never deactivated (crypto/keyring.ts), so the version the
   * write is about to seal needs no round trip of its own to find it.
   */
  async lock(tx: Queryable, tenantId: string, path: string): Promise<LockedSecret | undefined> {
    return tx.get<LockedSecret>(
      `SELECT ${SECRET_COLUMNS}, (SELECT id FROM crypto_keys WHERE kind = 'tenant' AND owner_id = secrets.tenant_id AND active = 1) AS tenant_key_id
         FROM secrets WHERE tenant_id = ? AND path = ?${this.forUpdate}`,
      [tenantId, path],
    );
  }

  async get(tenantId: string, path: string, tx?: Queryable): Promise<SecretRow | undefined> {
    return (tx ?? this.db).get<SecretRow>(`SELECT ${SECRET_COLUMNS} FROM secrets WHERE tenant_id = ? AND path = ?`, [tenantId, path]);
  }

  async insert(tx: Queryable, row: SecretRow): Promise<void> {
    const columns = SECRET_COLUMNS.split(", ");
    await tx.run(
      `INSERT INTO secrets (${SECRET_COLUMNS}) VALUES (${columns.map(() => "?").join(", ")})`,
      columns.map((c) => row[c as keyof SecretRow]),
    );
  }

  /** Rewrites every mutable column of the secret row. */
  async update(tx: Queryable, row: SecretRow): Promise<void> {
    await tx.run(UPDATE_SECRET, updateParams(row));
  }

  async insertVersion(tx: Queryable, row: VersionRow): Promise<void> {
    await tx.run(INSERT_VERSION, versionParams(row));
  }

  /** Versions older than `oldestKept` are aged out: their rows (and ciphertext) are removed. */
  async pruneVersionsBelow(tx: Queryable, tenantId: string, path: string, oldestKept: number): Promise<number> {
    return (await tx.run(PRUNE_VERSIONS, [tenantId, path, oldestKept])).changes;
  }

  /**
   * A new version of an existing secret: the version row, the secret row moved to it, and versions
   * below `oldestKept` aged out. On PostgreSQL that is one statement (data-modifying CTEs; the
   * DELETE cannot see the version inserted beside it, which is at or above `oldestKept` anyway),
   * three round trips fewer inside a transaction that holds the secret's row lock, and none of
   * its own: nothing needs its result, so it goes ahead of the transaction's next statement (the
   * audit chain's lane, on a PUT) in that statement's message (`Queryable.deferWrite`).
   */
  async replaceCurrentVersion(tx: Queryable, version: VersionRow, row: SecretRow, oldestKept: number): Promise<void> {
    if (this.db.dialect === "postgres") {
      await writeDeferred(tx, `WITH added AS (${INSERT_VERSION} RETURNING 1), aged AS (${PRUNE_VERSIONS} RETURNING 1) ${UPDATE_SECRET}`, [
        ...versionParams(version), row.tenant_id, row.path, oldestKept, ...updateParams(row),
      ]);
      return;
    }
    await this.insertVersion(tx, version);
    await this.update(tx, row);
    await this.pruneVersionsBelow(tx, row.tenant_id, row.path, oldestKept);
  }

  async versions(tenantId: string, path: string, tx?: Queryable): Promise<VersionRow[]> {
    return (tx ?? this.db).all<VersionRow>(
      "SELECT tenant_id, path, version, secret_type, NULL AS ciphertext, NULL AS wrapped_key, key_id, created_at, created_by, destroyed_at, grace_until FROM secret_versions WHERE tenant_id = ? AND path = ? ORDER BY version DESC",
      [tenantId, path],
    );
  }

  async countVersions(tenantId: string, path: string, tx?: Queryable): Promise<number> {
    const row = await (tx ?? this.db).get<{ n: number }>("SELECT COUNT(*) AS n FROM secret_versions WHERE tenant_id = ? AND path = ?", [tenantId, path]);
    return Number(row?.n ?? 0);
  }

  /** Erases the ciphertext of the given versions, keeping the row as a tombstone. */
  async destroyVersions(tx: Queryable, tenantId: string, path: string, versions: readonly number[], at: number): Promise<number[]> {
    const destroyed: number[] = [];
    for (const version of versions) {
      const result = await tx.run(
        "UPDATE secret_versions SET ciphertext = NULL, wrapped_key = NULL, destroyed_at = ? WHERE tenant_id = ? AND path = ? AND version = ? AND destroyed_at IS NULL",
        [at, tenantId, path, version],
      );
      if (result.changes > 0) destroyed.push(version);
    }
    return destroyed;
  }

  async purge(tx: Queryable, tenantId: string, path: string): Promise<void> {
    await tx.run("DELETE FROM secret_versions WHERE tenant_id = ? AND path = ?", [tenantId, path]);
    await tx.run("DELETE FROM secrets WHERE tenant_id = ? AND path = ?", [tenantId, path]);
  }

  /** Coalesced: only rows not touched in the last `windowMs` are written. */
  async touchAccess(tenantId: string, path: string, at: number, windowMs: number): Promise<void> {
    await this.db.run("UPDATE secrets SET last_accessed_at = ? WHERE tenant_id = ? AND path = ? AND (last_accessed_at IS NULL OR last_accessed_at < ?)", [
      at,
      tenantId,
      path,
      at - windowMs,
    ]);
  }

  /** Live (not soft-deleted) secrets in path order, after `afterPath`, under `prefix`. */
  /**
   * Live secrets under `prefix` after `afterPath`, in path order. With `metadataHolding`, a row's
   * metadata comes back only where its text holds that string, else as `{}`: a `?tag=` list looks
   * at up to 20,000 rows whose metadata may be 16 KB each, and only rows that may carry the tag
   * need theirs (the database looks; nothing else is copied out or parsed).
   */
  async page(tenantId: string, prefix: string, afterPath: string | null, limit: number, metadataHolding: string | null = null): Promise<SecretRow[]> {
    // One lower bound, the tighter: given `path >= prefix AND path > after`, SQLite narrowed the index
    // by the prefix's, so every page of a walk read again from the prefix's first secret (1M
    // secrets: one list walk took 200 s; docs/benchmarks.md round 24).
    const [lower, from] = afterPath !== null && afterPath >= prefix ? ["path > ?", afterPath] : ["path >= ?", prefix];
    const position = this.db.dialect === "postgres" ? "strpos(metadata, ?)" : "instr(metadata, ?)";
    const columns = metadataHolding === null ? SECRET_COLUMNS : SECRET_COLUMNS.replace("metadata", `CASE WHEN ${position} > 0 THEN metadata ELSE '{}' END AS metadata`);
    return this.db.all<SecretRow>(
      `SELECT ${columns} FROM secrets
        WHERE tenant_id = ? AND deleted_at IS NULL AND ${lower} AND path < ?
        ORDER BY path LIMIT ?`,
      [...(metadataHolding === null ? [] : [metadataHolding]), tenantId, from, prefixEnd(prefix), limit],
    );
  }

  /** Live secrets with an expiry before `until`, soonest first, keyset-paged on (expires_at, path). */
  async expiring(tenantId: string, until: number, after: { expiresAt: number; path: string } | null, limit: number): Promise<SecretRow[]> {
    // The keyset's bound also as a plain range: SQLite narrows an index by that, never by the OR beside it.
    const keyset = after ? "AND expires_at >= ? AND (expires_at > ? OR (expires_at = ? AND path > ?))" : "";
    const params = after ? [tenantId, until, after.expiresAt, after.expiresAt, after.expiresAt, after.path, limit] : [tenantId, until, limit];
    return this.db.all<SecretRow>(
      `SELECT ${SECRET_COLUMNS} FROM secrets
        WHERE tenant_id = ? AND deleted_at IS NULL AND expires_at IS NOT NULL AND expires_at <= ? ${keyset}
        ORDER BY expires_at, path LIMIT ?`,
      params,
    );
  }
}
