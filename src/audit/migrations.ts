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
];
