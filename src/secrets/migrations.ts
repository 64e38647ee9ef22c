import type { Migration } from "../storage/contract.js";

// Paths compare byte-wise (COLLATE "C" on PostgreSQL, SQLite's default) so prefix ranges and
// cursor order agree on both backends.
/** Every column of `secrets` but last_accessed_at, as of migration 0011 (a later column needs its own trigger change). */
const SECRET_COLUMNS_SERVED =
  "tenant_id, path, partner_id, secret_type, metadata, max_versions, expires_in, expires_at, notify_before, rotation_policy_id, secret_policy_id, current_version, created_at, created_by, updated_at, deleted_at, recoverable_until";

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
  {
    // Readers cache secret rows per tenant while this counter stands still. Triggers move it on
    // every change to a secret or a version, whichever code path makes it (writes, rotation,
    // deletes, key rewraps) and on whichever node: nothing has to remember to invalidate. The
    // last_accessed_at touch alone does not move it (it is not part of what a cached read serves
    // stale: the reader keeps its own copy of it up to date).
    id: "0011_secret_cache_epochs",
    up: (t) => {
      const table = "CREATE TABLE secret_cache_epochs (tenant_id TEXT PRIMARY KEY, epoch BIGINT NOT NULL)";
      if (t.dialect === "postgres") {
        return [
          table,
          `CREATE FUNCTION secret_cache_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             INSERT INTO secret_cache_epochs (tenant_id, epoch)
               VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END, 1)
               ON CONFLICT (tenant_id) DO UPDATE SET epoch = secret_cache_epochs.epoch + 1;
             RETURN NULL;
           END $$`,
          `CREATE TRIGGER secrets_cache_epoch AFTER INSERT OR DELETE OR UPDATE OF ${SECRET_COLUMNS_SERVED} ON secrets
             FOR EACH ROW EXECUTE FUNCTION secret_cache_epoch_bump()`,
          "CREATE TRIGGER secret_versions_cache_epoch AFTER INSERT OR DELETE OR UPDATE ON secret_versions FOR EACH ROW EXECUTE FUNCTION secret_cache_epoch_bump()",
        ];
      }
      const bump = (row: "NEW" | "OLD") =>
        `INSERT INTO secret_cache_epochs (tenant_id, epoch) VALUES (${row}.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET epoch = epoch + 1;`;
      return [
        table,
        `CREATE TRIGGER secrets_cache_epoch_insert AFTER INSERT ON secrets BEGIN ${bump("NEW")} END`,
        `CREATE TRIGGER secrets_cache_epoch_update AFTER UPDATE OF ${SECRET_COLUMNS_SERVED} ON secrets BEGIN ${bump("NEW")} END`,
        `CREATE TRIGGER secrets_cache_epoch_delete AFTER DELETE ON secrets BEGIN ${bump("OLD")} END`,
        `CREATE TRIGGER secret_versions_cache_epoch_insert AFTER INSERT ON secret_versions BEGIN ${bump("NEW")} END`,
        `CREATE TRIGGER secret_versions_cache_epoch_update AFTER UPDATE ON secret_versions BEGIN ${bump("NEW")} END`,
        `CREATE TRIGGER secret_versions_cache_epoch_delete AFTER DELETE ON secret_versions BEGIN ${bump("OLD")} END`,
      ];
    },
  },
  {
    // PostgreSQL: the epoch row was the per-tenant hot row every secret write locked from its first
    // version insert to its COMMIT (9 round trips of a PUT; bench/pg-writes.ts). Now the bump runs
    // at COMMIT (deferred constraint triggers: the row is locked only while the transaction
    // commits, never across a round trip) and lands on one of 16 rows per tenant, chosen by the
    // writing session, so concurrent writers rarely meet. The epoch is the sum of a tenant's rows:
    // every row only grows, so the sum moves exactly when any of them does, and a change and its
    // bump still become visible together at the commit. SQLite keeps its one row (one writer).
    id: "0500_secret_cache_epoch_sharded_deferred",
    up: (t) => {
      if (t.dialect !== "postgres") return [];
      return [
        "ALTER TABLE secret_cache_epochs ADD COLUMN shard INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE secret_cache_epochs DROP CONSTRAINT secret_cache_epochs_pkey",
        "ALTER TABLE secret_cache_epochs ADD PRIMARY KEY (tenant_id, shard)",
        `CREATE OR REPLACE FUNCTION secret_cache_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           INSERT INTO secret_cache_epochs (tenant_id, shard, epoch)
             VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END, pg_backend_pid() % 16, 1)
             ON CONFLICT (tenant_id, shard) DO UPDATE SET epoch = secret_cache_epochs.epoch + 1;
           RETURN NULL;
         END $$`,
        "DROP TRIGGER secrets_cache_epoch ON secrets",
        "DROP TRIGGER secret_versions_cache_epoch ON secret_versions",
        `CREATE CONSTRAINT TRIGGER secrets_cache_epoch AFTER INSERT OR DELETE OR UPDATE OF ${SECRET_COLUMNS_SERVED} ON secrets
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION secret_cache_epoch_bump()`,
        `CREATE CONSTRAINT TRIGGER secret_versions_cache_epoch AFTER INSERT OR DELETE OR UPDATE ON secret_versions
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION secret_cache_epoch_bump()`,
      ];
    },
  },
  {
    // PostgreSQL: a PUT changes three rows (the version, the aged-out version, the secret), and the
    // bump ran for each at COMMIT: three upserts of the same epoch row, 48 µs of a PUT's statement
    // time (pg_stat_statements, docs/benchmarks.md round 13). The change and its bump become
    // visible together at the commit, so one bump per tenant and transaction moves the epoch
    // exactly when more would. The transaction-local setting remembers the tenant last bumped; it
    // ends with the transaction (and with a rolled-back savepoint, as the bump itself does).
    id: "0513_secret_cache_epoch_once_per_transaction",
    up: (t) => {
      if (t.dialect !== "postgres") return [];
      return [
        `CREATE OR REPLACE FUNCTION secret_cache_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
         DECLARE
           tenant TEXT := CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END;
         BEGIN
           IF current_setting('scaivault.cache_epoch_bumped', true) = tenant THEN
             RETURN NULL;
           END IF;
           INSERT INTO secret_cache_epochs (tenant_id, shard, epoch)
             VALUES (tenant, pg_backend_pid() % 16, 1)
             ON CONFLICT (tenant_id, shard) DO UPDATE SET epoch = secret_cache_epochs.epoch + 1;
           PERFORM set_config('scaivault.cache_epoch_bumped', tenant, true);
           RETURN NULL;
         END $$`,
      ];
    },
  },
];
