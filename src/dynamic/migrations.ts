import type { Migration } from "../storage/contract.js";

export const dynamicMigrations: Migration[] = [
  {
    id: "0300_dynamic",
    up: (t) => [
      // Engines hold no credential: root credentials stay a normal secret (config.root_credentials_path);
      // an SSH engine's CA private key is sealed under the barrier (ca_key_sealed, ca_key_wrapped).
      `CREATE TABLE dynamic_engines (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        partner_id TEXT NOT NULL,
        name TEXT NOT NULL,
        engine_type TEXT NOT NULL,
        plugin TEXT NOT NULL,
        config TEXT NOT NULL,
        default_ttl TEXT NOT NULL,
        max_ttl TEXT NOT NULL,
        description TEXT,
        status TEXT NOT NULL,
        ca_public_key TEXT,
        ca_key_sealed ${t.blob},
        ca_key_wrapped ${t.blob},
        ca_key_id TEXT,
        next_root_rotation_at BIGINT,
        last_root_rotation_at BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
      "CREATE UNIQUE INDEX dynamic_engines_name ON dynamic_engines (tenant_id, name)",
      "CREATE INDEX dynamic_engines_rotation ON dynamic_engines (next_root_rotation_at)",
      `CREATE TABLE dynamic_roles (
        engine_id TEXT NOT NULL,
        name TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        body TEXT NOT NULL,
        default_ttl TEXT NOT NULL,
        max_ttl TEXT NOT NULL,
        description TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (engine_id, name)
      )`,
      // A lease keeps what its revocation needs (username, the role's revocation statements as they
      // were at creation) but never the password. claimed_until is the cross-node claim: a node
      // sets it in a transaction before revoking at the source, so each revocation is done once.
      `CREATE TABLE dynamic_leases (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        partner_id TEXT NOT NULL,
        engine_id TEXT NOT NULL,
        engine_name TEXT NOT NULL,
        role_name TEXT NOT NULL,
        identity_id TEXT NOT NULL,
        username TEXT NOT NULL,
        revocation TEXT NOT NULL,
        renew TEXT NOT NULL,
        serial TEXT,
        state TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        max_expires_at BIGINT NOT NULL,
        last_renewed_at BIGINT,
        revoked_at BIGINT,
        revoke_reason TEXT,
        revoke_attempts INTEGER NOT NULL,
        last_error TEXT,
        next_retry_at BIGINT,
        claimed_until BIGINT,
        claimed_by TEXT
      )`,
      "CREATE INDEX dynamic_leases_due ON dynamic_leases (state, expires_at)",
      "CREATE INDEX dynamic_leases_retry ON dynamic_leases (state, next_retry_at)",
      "CREATE INDEX dynamic_leases_list ON dynamic_leases (tenant_id, created_at, id)",
      "CREATE INDEX dynamic_leases_engine ON dynamic_leases (engine_id, state)",
    ],
  },
  {
    // An engine's KRL lists the serials of revoked and expired leases whose certificates may still be
    // valid: along this index, not through every lease the engine ever made (docs/benchmarks.md round 23).
    id: "0301_dynamic_krl_by_end",
    up: () => ["CREATE INDEX dynamic_leases_krl ON dynamic_leases (engine_id, max_expires_at) WHERE serial IS NOT NULL AND state IN ('revoked', 'expired')"],
  },
  {
    // A caller without dynamic:manage lists only its own leases: along them, newest first, not
    // through the tenant's whole lease history filtered by identity (docs/benchmarks.md round 23).
    id: "0302_dynamic_leases_by_identity",
    up: () => ["CREATE INDEX dynamic_leases_identity ON dynamic_leases (tenant_id, identity_id, created_at, id)"],
  },
  {
    // A list by state (the active leases, newest first) walks that state's leases, however long the
    // tenant's history of ended ones (round 24).
    id: "0303_dynamic_leases_by_state",
    up: () => ["CREATE INDEX dynamic_leases_state ON dynamic_leases (tenant_id, state, created_at, id)"],
  },
  {
    // An identity's active leases, counted before each generation (SCAIVAULT_MAX_LEASES_PER_IDENTITY):
    // along these alone, not its whole lease history or the tenant's active leases. Not a partial
    // index on `state = 'active'`: PostgreSQL took that one for a tenant's `?state=active` page.
    id: "0304_dynamic_active_by_identity",
    up: () => ["CREATE INDEX dynamic_leases_identity_state ON dynamic_leases (tenant_id, identity_id, state)"],
  },
  {
    // Counts the leases that entered the engine's KRL (revoked or expired with a serial). A node serves
    // the KRL it built while this count stands, rather than reading and encoding every listed serial
    // for each anonymous request; a column of its own, never written back by an engine update.
    id: "0305_dynamic_krl_version",
    up: () => ["ALTER TABLE dynamic_engines ADD COLUMN krl_version BIGINT NOT NULL DEFAULT 0"],
  },
];
