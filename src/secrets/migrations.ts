import type { Migration } from "../storage/contract.js";

// Paths compare byte-wise (COLLATE "C" on PostgreSQL, SQLite's default) so prefix ranges and
// cursor order agree on both backends.
export const secretMigrations: Migration[] = [
  {
    id: "0010_secrets",
    up: (t) => {
      const path = t.byteText;
      return [
        `CREATE TABLE secrets (
          tenant_id TEXT NOT NULL,
          path ${path} NOT NULL,
          partner_id TEXT NOT NULL,
          secret_type TEXT NOT NULL,
          metadata TEXT NOT NULL,
          max_versions INTEGER NOT NULL,
          expires_in TEXT,
          expires_at BIGINT,
          notify_before TEXT,
          rotation_policy_id TEXT,
          secret_policy_id TEXT,
          current_version INTEGER NOT NULL,
          created_at BIGINT NOT NULL,
          created_by TEXT,
          updated_at BIGINT NOT NULL,
          last_accessed_at BIGINT,
          deleted_at BIGINT,
          recoverable_until BIGINT,
          PRIMARY KEY (tenant_id, path)
        )`,
        "CREATE INDEX secrets_expiry ON secrets (tenant_id, expires_at)",
        `CREATE TABLE secret_versions (
          tenant_id TEXT NOT NULL,
          path ${path} NOT NULL,
          version INTEGER NOT NULL,
          secret_type TEXT NOT NULL,
          ciphertext ${t.blob},
          wrapped_key ${t.blob},
          key_id TEXT,
          created_at BIGINT NOT NULL,
          created_by TEXT,
          destroyed_at BIGINT,
          grace_until BIGINT,
          PRIMARY KEY (tenant_id, path, version)
        )`,
      ];
    },
  },
];
