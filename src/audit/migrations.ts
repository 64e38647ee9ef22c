import type { Migration } from "../storage/contract.js";

export const auditMigrations: Migration[] = [
  {
    id: "0004_audit_log",
    up: () => [
      `CREATE TABLE audit_log (
        id TEXT PRIMARY KEY,
        partner_id TEXT NOT NULL,
        tenant_id TEXT,
        timestamp BIGINT NOT NULL,
        action TEXT NOT NULL,
        identity_type TEXT,
        identity_id TEXT,
        secret_path TEXT,
        source_ip TEXT,
        user_agent TEXT,
        success INTEGER NOT NULL,
        status INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        request_id TEXT NOT NULL,
        extra_data TEXT NOT NULL
      )`,
      "CREATE INDEX audit_log_tenant_time ON audit_log (tenant_id, timestamp)",
      "CREATE INDEX audit_log_request ON audit_log (request_id)",
    ],
  },
  {
    // The hash chain: one per tenant and one per partner (entries with tenant_id NULL). The head
    // row is locked by every append, so nodes sharing a database extend each chain one at a time;
    // the unique (chain_id, seq) index makes a fork impossible even if that lock were bypassed.
    id: "0040_audit_chain",
    up: () => [
      "ALTER TABLE audit_log ADD COLUMN chain_id TEXT",
      "ALTER TABLE audit_log ADD COLUMN seq BIGINT",
      "ALTER TABLE audit_log ADD COLUMN prev_hash TEXT",
      "ALTER TABLE audit_log ADD COLUMN hash TEXT",
      "CREATE UNIQUE INDEX audit_log_chain_seq ON audit_log (chain_id, seq)",
      "CREATE INDEX audit_log_partner_time ON audit_log (partner_id, timestamp)",
      "CREATE INDEX audit_log_tenant_path ON audit_log (tenant_id, secret_path, timestamp)",
      "CREATE INDEX audit_log_tenant_identity ON audit_log (tenant_id, identity_id, timestamp)",
      `CREATE TABLE audit_chain_heads (
        chain_id TEXT PRIMARY KEY,
        partner_id TEXT NOT NULL,
        tenant_id TEXT,
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
    ],
  },
  {
    id: "0041_audit_exports",
    up: () => [
      `CREATE TABLE audit_exports (
        id TEXT PRIMARY KEY,
        partner_id TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        status TEXT NOT NULL,
        format TEXT NOT NULL,
        range_from BIGINT,
        range_to BIGINT,
        filters TEXT NOT NULL,
        destination TEXT NOT NULL,
        estimated_records INTEGER NOT NULL,
        record_count INTEGER,
        manifest TEXT,
        error TEXT,
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        completed_at BIGINT
      )`,
      "CREATE INDEX audit_exports_tenant ON audit_exports (tenant_id, created_at)",
    ],
  },
  {
    // Signed checkpoints (SPEC §5 ext), apart from the chain: no API writes or deletes them. One
    // per (chain, kind, entries): a periodic one when the chain moved, a `cut` one at each
    // retention cut, from which verification starts.
    id: "0090_audit_checkpoints",
    up: () => [
      `CREATE TABLE audit_checkpoints (
        chain_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        entries BIGINT NOT NULL,
        partner_id TEXT NOT NULL,
        tenant_id TEXT,
        head_hash TEXT NOT NULL,
        timestamp BIGINT NOT NULL,
        key_id TEXT NOT NULL,
        signature TEXT NOT NULL,
        PRIMARY KEY (chain_id, kind, entries)
      )`,
      "CREATE INDEX audit_checkpoints_chain_entries ON audit_checkpoints (chain_id, entries)",
      "CREATE INDEX audit_checkpoints_partner_time ON audit_checkpoints (partner_id, timestamp)",
      // Background jobs that must fire once across nodes claim their turn here (compare-and-set).
      `CREATE TABLE audit_jobs (
        name TEXT PRIMARY KEY,
        last_run_at BIGINT NOT NULL
      )`,
    ],
  },
  {
    // Per-tenant retention; a reduction waits in pending_* until it takes effect.
    id: "0091_audit_retention",
    up: () => [
      `CREATE TABLE audit_retention (
        tenant_id TEXT PRIMARY KEY,
        partner_id TEXT NOT NULL,
        days INTEGER NOT NULL,
        pending_days INTEGER,
        pending_effective_at BIGINT,
        updated_by TEXT NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
    ],
  },
  {
    // A running export renews its lease; one whose lease ran out was interrupted by a crash.
    id: "0092_audit_export_lease",
    up: () => ["ALTER TABLE audit_exports ADD COLUMN lease_until BIGINT"],
  },
  {
    // `path_prefix` filters become a byte-wise range on (tenant_id, secret_path, timestamp): on
    // PostgreSQL the column must compare byte-wise for that range to be exact whatever the
    // database's collation (SQLite's TEXT already does). Rebuilds that index; the rows stay.
    id: "0093_audit_path_bytewise",
    up: (types) => (types.dialect === "postgres" ? [`ALTER TABLE audit_log ALTER COLUMN secret_path TYPE ${types.byteText}`] : []),
  },
  {
    // The microseconds within `timestamp`'s millisecond (0–999), which the docs' examples show.
    // Rows written before stay NULL: their hash never covered it, and they read as `…000Z`.
    id: "0094_audit_timestamp_micros",
    up: () => ["ALTER TABLE audit_log ADD COLUMN timestamp_us INTEGER"],
  },
  {
    // Only the partner chain's own entries (tenant_id NULL: failed logins and the like) are read
    // by partner and time (keyset.ts, the dense-prefix walk, verify's stray check). Indexing every
    // tenant's entries there too made that read pass over the whole partner's trail, and cost every
    // audited request one more index write.
    id: "0514_audit_partner_chain_time",
    up: () => ["DROP INDEX audit_log_partner_time", "CREATE INDEX audit_log_partner_time ON audit_log (partner_id, timestamp) WHERE tenant_id IS NULL"],
  },
  {
    // Summaries count whole past days from per-day group counts (rollups.ts) instead of every
    // entry. `owner` is a chain owner (a tenant, or a partner's own chain); its state says which
    // span of time its rollups cover exactly, [rolled_from, rolled_to), and how well they compress
    // (groups written for the entries counted).
    id: "0515_audit_rollups",
    up: (types) => [
      `CREATE TABLE audit_rollup_state (
        owner TEXT PRIMARY KEY,
        rolled_from BIGINT NOT NULL,
        rolled_to BIGINT NOT NULL,
        counted_entries BIGINT NOT NULL DEFAULT 0,
        counted_groups BIGINT NOT NULL DEFAULT 0
      )`,
      `CREATE TABLE audit_rollups (
        owner TEXT NOT NULL,
        day BIGINT NOT NULL,
        secret_path ${types.byteText},
        identity_id TEXT,
        identity_type TEXT,
        action TEXT NOT NULL,
        success INTEGER NOT NULL,
        status INTEGER NOT NULL,
        n BIGINT NOT NULL,
        first_at BIGINT NOT NULL,
        last_at BIGINT NOT NULL
      )`,
      "CREATE INDEX audit_rollups_owner_day ON audit_rollups (owner, day)",
    ],
  },
  {
    // A tenant's checkpoints (one a minute per chain with new entries: half a million a year) are
    // listed by time along the tenant's own, and its chains found by skipping along (tenant, chain),
    // instead of reading and sorting every checkpoint on each page (round 24).
    id: "0517_audit_checkpoints_by_tenant",
    up: () => [
      "CREATE INDEX audit_checkpoints_tenant_time ON audit_checkpoints (tenant_id, timestamp, chain_id, entries)",
      "CREATE INDEX audit_checkpoints_tenant_chain ON audit_checkpoints (tenant_id, chain_id)",
    ],
  },
  {
    // Verification finds a tenant's (or a partner's) chain heads along these, not by reading every
    // tenant's heads: 20,000 tenants' were 160,000 head rows on PostgreSQL, ~14 ms per verification
    // (round 34). An append changes only a head's seq, hash and time, so neither index is touched.
    id: "0521_audit_chain_heads_owners",
    up: () => [
      "CREATE INDEX audit_chain_heads_tenant ON audit_chain_heads (tenant_id)",
      "CREATE INDEX audit_chain_heads_partner ON audit_chain_heads (partner_id)",
    ],
  },
  {
    // Batch reads (`read` entries about no path; their paths are in extra_data): a secret's trail
    // looks for those that named it by a LIKE on each, and along (tenant, path, time) it read every
    // entry about no path (lists, logins, token and policy changes) to find them (round 34). The
    // columns are the general index's, so that each statement that names the partial index's
    // condition is served by it (SQLite rates a partial index smaller when all else is equal).
    id: "0524_audit_batch_reads",
    up: () => ["CREATE INDEX audit_log_batch_reads ON audit_log (tenant_id, secret_path, timestamp) WHERE secret_path IS NULL AND action = 'read'"],
  },
  {
    // A partner admin's verification finds the partner's checkpointed chains chain by chain along
    // this, as a tenant's are (0517), instead of a DISTINCT over every checkpoint of the partner.
    id: "0528_audit_checkpoints_by_partner_chain",
    up: () => ["CREATE INDEX audit_checkpoints_partner_chain ON audit_checkpoints (partner_id, chain_id)"],
  },
  {
    // One chain's checkpoints listed by time (`GET /v1/audit/checkpoints?chain=`), along the chain,
    // not along the owner's time index through every other chain's checkpoints (round 34).
    id: "0529_audit_checkpoints_chain_time",
    up: () => ["CREATE INDEX audit_checkpoints_chain_time ON audit_checkpoints (chain_id, timestamp, entries)"],
  },
  {
    // The paths each batch read named, one row each, written with the entry (mentions.ts): a
    // secret's trail reads these along (owner, path, time) instead of every batch read's
    // extra_data. `id` is the entry's; the other columns are the entry's own, named alike, so its
    // filters apply here. Batch reads written before this are added from their extra_data.
    id: "0531_audit_path_mentions",
    up: ({ dialect, byteText }) => {
      const select = (list: "paths" | "denied_or_failed", outcome: string) =>
        dialect === "postgres"
          ? // Cast only entries that PostgreSQL's jsonb takes: \\u0000 and lone surrogates it refuses, and a
            // failed cast would fail the upgrade (CASE evaluates its branches in order, never the rest).
            `SELECT a.id, m.value #>> '{}', '${outcome}', a.partner_id, a.tenant_id, a.timestamp, a.action, a.identity_type, a.identity_id, a.success, a.status
               FROM audit_log a, jsonb_array_elements(CASE
                 WHEN a.secret_path IS NOT NULL OR a.action <> 'read' OR a.extra_data ~* '\\\\u(0000|d[89a-f])' THEN '[]'::jsonb
                 WHEN jsonb_typeof(a.extra_data::jsonb -> '${list}') = 'array' THEN a.extra_data::jsonb -> '${list}'
                 ELSE '[]'::jsonb END) AS m(value)
               WHERE a.secret_path IS NULL AND a.action = 'read'
                 AND jsonb_typeof(m.value) = 'string' AND m.value #>> '{}' ~ '^[a-z0-9._-]+(/[a-z0-9._-]+)*$' AND length(m.value #>> '{}') <= 512`
          : // A name with NUL passes GLOB and length() (both stop at it), not its BLOB length.
            `SELECT a.id, m.value, '${outcome}', a.partner_id, a.tenant_id, a.timestamp, a.action, a.identity_type, a.identity_id, a.success, a.status
               FROM audit_log a, json_each(CASE WHEN json_valid(a.extra_data) AND json_type(a.extra_data, '$.${list}') = 'array' THEN json_extract(a.extra_data, '$.${list}') ELSE '[]' END) AS m
               WHERE a.secret_path IS NULL AND a.action = 'read' AND m.type = 'text'
                 AND m.value NOT GLOB '*[^a-z0-9._/-]*' AND length(m.value) BETWEEN 1 AND 512
                 AND length(CAST(m.value AS BLOB)) = length(m.value)`;
      const columns = "id, path, outcome, partner_id, tenant_id, timestamp, action, identity_type, identity_id, success, status";
      return [
        `CREATE TABLE audit_path_mentions (
          id TEXT NOT NULL,
          path ${byteText} NOT NULL,
          outcome TEXT NOT NULL,
          partner_id TEXT NOT NULL,
          tenant_id TEXT,
          timestamp BIGINT NOT NULL,
          action TEXT NOT NULL,
          identity_type TEXT,
          identity_id TEXT,
          success INTEGER NOT NULL,
          status INTEGER NOT NULL,
          PRIMARY KEY (id, path)
        )`,
        // The backfill reads batch reads along the index the search these replace used; the new
        // index is built once after it (not row by row), and the old one goes last: on PostgreSQL its
        // DROP locks audit_log, held only until this migration commits.
        `INSERT INTO audit_path_mentions (${columns}) ${select("paths", "read")} ON CONFLICT DO NOTHING`,
        `INSERT INTO audit_path_mentions (${columns}) ${select("denied_or_failed", "failed")} ON CONFLICT DO NOTHING`,
        "CREATE INDEX audit_path_mentions_path ON audit_path_mentions (tenant_id, path, timestamp, id)",
        "DROP INDEX audit_log_batch_reads",
      ];
    },
  },
];
