import type { Migration } from "../storage/contract.js";

export const accessMigrations: Migration[] = [
  {
    id: "0003_access",
    up: () => [
      `CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        partner_id TEXT NOT NULL,
        tenant_id TEXT,
        identity_id TEXT NOT NULL,
        identity_type TEXT NOT NULL,
        scopes TEXT NOT NULL,
        roles TEXT NOT NULL,
        description TEXT,
        created_by TEXT,
        created_at BIGINT NOT NULL,
        expires_at BIGINT,
        revoked_at BIGINT
      )`,
      "CREATE INDEX tokens_tenant ON tokens (tenant_id, created_at)",
      `CREATE TABLE policies (
        id TEXT PRIMARY KEY,
        partner_id TEXT NOT NULL,
        tenant_id TEXT,
        scope TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        rules TEXT NOT NULL,
        builtin INTEGER NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
      "CREATE UNIQUE INDEX policies_name ON policies (partner_id, tenant_id, name)",
      `CREATE TABLE policy_bindings (
        id TEXT PRIMARY KEY,
        policy_id TEXT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
        partner_id TEXT NOT NULL,
        tenant_id TEXT,
        identity_type TEXT NOT NULL,
        identity_id TEXT NOT NULL,
        expires_at BIGINT,
        created_at BIGINT NOT NULL
      )`,
      "CREATE INDEX policy_bindings_identity ON policy_bindings (partner_id, identity_id)",
      "CREATE INDEX policy_bindings_policy ON policy_bindings (policy_id)",
    ],
  },
  {
    // One monotonic counter bumped in the same transaction as every policy or binding change:
    // each node compares it per request and drops its compiled decisions when it moved.
    id: "0030_access_epoch",
    up: () => [
      "CREATE TABLE access_epoch (id INTEGER PRIMARY KEY, epoch BIGINT NOT NULL)",
      "INSERT INTO access_epoch (id, epoch) VALUES (1, 0)",
      "ALTER TABLE policies ADD COLUMN is_active INTEGER NOT NULL DEFAULT 1",
      "ALTER TABLE policy_bindings ADD COLUMN created_by TEXT",
      "CREATE UNIQUE INDEX policy_bindings_unique ON policy_bindings (policy_id, identity_id)",
      "CREATE INDEX policies_tenant ON policies (partner_id, tenant_id, id)",
    ],
  },
  {
    // A second counter for token revocations: a revocation makes every node drop its cached tokens,
    // not its compiled policies and directory entries too. Any token may revoke the ones its
    // identity issued, so a revocation moving the access epoch let the weakest caller make every
    // node recompile every identity's policies a few times a second (docs/benchmarks.md round 29).
    id: "0031_access_revocations",
    up: () => ["ALTER TABLE access_epoch ADD COLUMN revocations BIGINT NOT NULL DEFAULT 0"],
  },
  {
    // Policies and bindings belong to a tenant (or, partner-wide, to a partner's tenants): a change
    // moves its own counter and names what it reached, so every node drops the compiled policies
    // of those tenants only. On the access epoch, one tenant administrator's policy changes made
    // every node reload every tenant's policies and tokens (docs/decisions-access.md).
    id: "0032_policy_changes",
    up: () => [
      "ALTER TABLE access_epoch ADD COLUMN policy_changes BIGINT NOT NULL DEFAULT 0",
      "CREATE TABLE policy_changes (reach TEXT PRIMARY KEY, seq BIGINT NOT NULL)",
      "CREATE INDEX policy_changes_seq ON policy_changes (seq)",
    ],
  },
  {
    // A tenant's directory changes (a sync, a role assignment) likewise: every node drops the
    // directory entries it cached for that tenant only. On the access epoch, any change in any
    // tenant's directory (a user editing a profile in ScaiKey) emptied every node's caches.
    id: "0033_directory_changes",
    up: () => [
      "ALTER TABLE access_epoch ADD COLUMN directory_changes BIGINT NOT NULL DEFAULT 0",
      "CREATE TABLE directory_changes (reach TEXT PRIMARY KEY, seq BIGINT NOT NULL)",
      "CREATE INDEX directory_changes_seq ON directory_changes (seq)",
    ],
  },
  {
    // A revoked token keeps the revocation count it was revoked under: every node drops that token
    // from its cache, where a revocation emptied every node's token cache, so any caller revoking
    // its own personal tokens made every node read every active token again. The horizon is the
    // count up to which revoked rows may have been pruned (a node behind it empties its cache).
    id: "0034_revocation_seq",
    up: () => [
      "ALTER TABLE tokens ADD COLUMN revoked_seq BIGINT",
      "CREATE INDEX tokens_revoked_seq ON tokens (revoked_seq) WHERE revoked_seq IS NOT NULL",
      "ALTER TABLE access_epoch ADD COLUMN revocations_pruned BIGINT NOT NULL DEFAULT 0",
    ],
  },
  {
    // SPEC §2 (issue 13): the bootstrap identity moves from `user:admin`, which a ScaiKey JWT with
    // sub or email "admin" also produced, to `system:bootstrap`, which no token mapping can produce.
    // Every `user:admin` binding moves (a duplicate on the same policy is dropped first), and so
    // does the bootstrap token (the one the vault itself created); the epoch bump drops cached decisions.
    id: "0070_bootstrap_identity",
    up: () => [
      "DELETE FROM policy_bindings WHERE identity_id = 'user:admin' AND policy_id IN (SELECT policy_id FROM policy_bindings WHERE identity_id = 'system:bootstrap')",
      "UPDATE policy_bindings SET identity_id = 'system:bootstrap', identity_type = 'system' WHERE identity_id = 'user:admin'",
      "UPDATE tokens SET identity_id = 'system:bootstrap', identity_type = 'system' WHERE identity_id = 'user:admin' AND created_by = 'system:bootstrap'",
      "UPDATE access_epoch SET epoch = epoch + 1 WHERE id = 1",
    ],
  },
  {
    // A policy's bindings are listed a page at a time in (created_at, id) order along this; the
    // list had no pages and sorted every binding of the policy (round 34). It leads with the
    // policy, as the index it replaces did (a policy's delete removes its bindings along it).
    id: "0526_policy_bindings_pages",
    up: () => ["CREATE INDEX policy_bindings_page ON policy_bindings (policy_id, created_at, id)", "DROP INDEX policy_bindings_policy"],
  },
];
