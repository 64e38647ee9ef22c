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
];
