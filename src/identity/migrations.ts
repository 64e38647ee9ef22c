import type { Migration } from "../storage/contract.js";

/** The identity domain (ids 0100–0149): the directory cache, syncs, vault roles, token kinds, exchange trusts. */
export const identityMigrations: Migration[] = [
  {
    id: "0100_identity_directory",
    up: () => [
      // Partners and tenants gain the directory's view of them; local ones (bootstrap, POST) stay `local`.
      "ALTER TABLE partners ADD COLUMN slug TEXT",
      "ALTER TABLE partners ADD COLUMN region TEXT",
      "ALTER TABLE partners ADD COLUMN status TEXT NOT NULL DEFAULT 'ACTIVE'",
      "ALTER TABLE partners ADD COLUMN source TEXT NOT NULL DEFAULT 'local'",
      "ALTER TABLE partners ADD COLUMN last_synced_at BIGINT",
      "ALTER TABLE tenants ADD COLUMN slug TEXT",
      "ALTER TABLE tenants ADD COLUMN status TEXT NOT NULL DEFAULT 'ACTIVE'",
      "ALTER TABLE tenants ADD COLUMN source TEXT NOT NULL DEFAULT 'local'",
      "ALTER TABLE tenants ADD COLUMN last_synced_at BIGINT",
      // Users, service accounts and groups of one tenant, keyed by ScaiKey's ids; `groups` and
      // `group_ids` are transitive (computed when the tenant is applied), `direct_groups` direct.
      `CREATE TABLE directory_identities (
        tenant_id TEXT NOT NULL,
        id TEXT NOT NULL,
        partner_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        identity_id TEXT NOT NULL,
        email TEXT,
        client_id TEXT,
        name TEXT,
        description TEXT,
        status TEXT NOT NULL,
        mfa_enabled INTEGER NOT NULL DEFAULT 0,
        roles TEXT NOT NULL DEFAULT '[]',
        direct_groups TEXT NOT NULL DEFAULT '[]',
        group_ids TEXT NOT NULL DEFAULT '[]',
        groups TEXT NOT NULL DEFAULT '[]',
        last_synced_at BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, id)
      )`,
      "CREATE INDEX directory_identities_identity ON directory_identities (tenant_id, identity_id)",
      "CREATE INDEX directory_identities_kind ON directory_identities (tenant_id, kind, id)",
      `CREATE TABLE directory_members (
        tenant_id TEXT NOT NULL,
        group_id TEXT NOT NULL,
        member_type TEXT NOT NULL,
        member_id TEXT NOT NULL,
        added_at TEXT,
        PRIMARY KEY (tenant_id, group_id, member_type, member_id)
      )`,
      `CREATE TABLE identity_syncs (
        id TEXT PRIMARY KEY,
        partner_id TEXT,
        scope_partner_id TEXT,
        scope_tenant_id TEXT,
        scope_key TEXT NOT NULL,
        status TEXT NOT NULL,
        trigger_kind TEXT NOT NULL,
        triggered_by TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        completed_at BIGINT,
        stats TEXT NOT NULL,
        errors TEXT NOT NULL,
        rerun INTEGER NOT NULL DEFAULT 0
      )`,
      // At most one unfinished sync per scope, on every node: the second ask gets the running one.
      "CREATE UNIQUE INDEX identity_syncs_active ON identity_syncs (scope_key) WHERE status IN ('pending', 'running')",
      "CREATE INDEX identity_syncs_started ON identity_syncs (started_at)",
      // The scheduled sync's next moment, claimed with a conditional UPDATE: one node fires it.
      "CREATE TABLE identity_sync_schedule (id INTEGER PRIMARY KEY, next_at BIGINT NOT NULL)",
      "INSERT INTO identity_sync_schedule (id, next_at) VALUES (1, 0)",
      `CREATE TABLE identity_vault_roles (
        partner_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        roles TEXT NOT NULL,
        updated_by TEXT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (partner_id, user_id)
      )`,
      "CREATE TABLE identity_webhook_events (event_id TEXT PRIMARY KEY, received_at BIGINT NOT NULL)",
    ],
  },
  {
    // spec/identity.md §5: token kinds; exchange tokens remember their trust and foreign subject.
    id: "0101_token_kinds",
    up: () => [
      "ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'service'",
      "ALTER TABLE tokens ADD COLUMN trust_id TEXT",
      "ALTER TABLE tokens ADD COLUMN subject TEXT",
      "ALTER TABLE tokens ADD COLUMN allowed_paths TEXT",
      "ALTER TABLE tokens ADD COLUMN last_used_at BIGINT",
      "UPDATE tokens SET kind = 'bootstrap' WHERE created_by = 'system:bootstrap'",
      "CREATE INDEX tokens_identity ON tokens (tenant_id, identity_id)",
      "CREATE INDEX tokens_trust ON tokens (trust_id)",
    ],
  },
  {
    id: "0102_exchange_trusts",
    up: () => [
      `CREATE TABLE exchange_trusts (
        id TEXT PRIMARY KEY,
        partner_id TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        name TEXT NOT NULL,
        issuer TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        body TEXT NOT NULL,
        created_by TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
      "CREATE UNIQUE INDEX exchange_trusts_name ON exchange_trusts (tenant_id, name)",
      "CREATE INDEX exchange_trusts_issuer ON exchange_trusts (issuer)",
    ],
  },
  {
    // Token lists page in id order within a tenant, or within one identity of it: along these
    // indexes, where the old ones (by creation time; identity without id) left SQLite walking the
    // primary key through every tenant's tokens and PostgreSQL sorting the tenant's (round 24).
    id: "0103_token_lists",
    up: () => [
      "DROP INDEX tokens_tenant",
      "DROP INDEX tokens_identity",
      "CREATE INDEX tokens_tenant_list ON tokens (tenant_id, id)",
      "CREATE INDEX tokens_identity_list ON tokens (tenant_id, identity_id, id)",
    ],
  },
  {
    // Credential retention (SCAIVAULT_CREDENTIALS_RETENTION) finds the tokens that ended before its
    // cutoff along these, not through every token: partial, as most tokens are never revoked and
    // personal and service tokens may never expire.
    id: "0104_tokens_by_end",
    up: () => [
      "CREATE INDEX tokens_expiry ON tokens (expires_at) WHERE expires_at IS NOT NULL",
      "CREATE INDEX tokens_revoked ON tokens (revoked_at) WHERE revoked_at IS NOT NULL",
    ],
  },
  {
    // Sync history retention (FINISHED_SYNCS) finds finished syncs past the cutoff along the first,
    // and whether a newer finished one of the same scope exists along the second.
    id: "0105_identity_syncs_by_end",
    up: () => [
      "CREATE INDEX identity_syncs_finished ON identity_syncs (completed_at) WHERE completed_at IS NOT NULL",
      "CREATE INDEX identity_syncs_scope ON identity_syncs (scope_key, completed_at)",
    ],
  },
  {
    // A digest of each group's member rows as last applied: a sync reads and rewrites the rows of
    // the groups whose digest moved only (src/identity/members.ts), not the tenant's every row.
    id: "0106_directory_member_digests",
    up: () => [
      `CREATE TABLE directory_member_digests (
        tenant_id TEXT NOT NULL,
        group_id TEXT NOT NULL,
        digest TEXT NOT NULL,
        PRIMARY KEY (tenant_id, group_id)
      )`,
    ],
  },
  {
    // Each entry's bucket (store.ts bucketOf) and a digest per bucket of the directory's entries as
    // last applied: a sync reads and compares the entries of the buckets that moved only. Rows
    // cached before have no bucket; the tenant's next sync, finding such rows, compares all of its
    // entries once and gives them theirs.
    id: "0107_directory_entry_buckets",
    up: () => [
      "ALTER TABLE directory_identities ADD COLUMN bucket INTEGER",
      "CREATE INDEX directory_identities_bucket ON directory_identities (tenant_id, bucket)",
      `CREATE TABLE directory_entry_digests (
        tenant_id TEXT NOT NULL,
        bucket INTEGER NOT NULL,
        digest TEXT NOT NULL,
        PRIMARY KEY (tenant_id, bucket)
      )`,
    ],
  },
  {
    // Every webhook delivery first forgets the event ids older than a day; without an index on
    // their time, each delivery read the whole day's ids (a directory's busy day: every one).
    id: "0519_identity_webhook_events_received",
    up: () => ["CREATE INDEX identity_webhook_events_received ON identity_webhook_events (received_at)"],
  },
  {
    // The audiences each trust accepts, by issuer: an exchange finds the trusts of its token's
    // issuer and audiences (and tenant) along this, instead of reading and parsing every enabled
    // trust of the issuer in every tenant (round 34). Filled from the trusts' stored bodies.
    id: "0525_exchange_trust_audiences",
    up: ({ dialect }) => [
      `CREATE TABLE exchange_trust_audiences (
        issuer TEXT NOT NULL,
        audience TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        trust_id TEXT NOT NULL,
        PRIMARY KEY (issuer, audience, tenant_id, trust_id)
      )`,
      "CREATE INDEX exchange_trust_audiences_trust ON exchange_trust_audiences (trust_id)",
      dialect === "postgres"
        ? `INSERT INTO exchange_trust_audiences (issuer, audience, tenant_id, trust_id)
             SELECT DISTINCT t.issuer, a.value, t.tenant_id, t.id FROM exchange_trusts t, jsonb_array_elements_text(t.body::jsonb -> 'audiences') AS a(value)`
        : `INSERT INTO exchange_trust_audiences (issuer, audience, tenant_id, trust_id)
             SELECT DISTINCT t.issuer, a.value, t.tenant_id, t.id FROM exchange_trusts t, json_each(json_extract(t.body, '$.audiences')) AS a`,
    ],
  },
  {
    // A trust's revocation (disabled, changed, deleted) finds its tokens still live along this,
    // not every token it issued within the credentials' retention (round 34). Partial: only tokens
    // an exchange issued, until they are revoked.
    id: "0527_tokens_trust_live",
    up: () => ["CREATE INDEX tokens_trust_live ON tokens (trust_id, expires_at) WHERE trust_id IS NOT NULL AND revoked_at IS NULL", "DROP INDEX tokens_trust"],
  },
];
