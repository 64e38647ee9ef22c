import type { Migration } from "../storage/contract.js";

export const rotationMigrations: Migration[] = [
  {
    id: "0060_rotation",
    up: (t) => {
      const path = t.byteText;
      return [
        `CREATE TABLE secret_policies (
          id TEXT PRIMARY KEY,
          tenant_id TEXT NOT NULL,
          partner_id TEXT NOT NULL,
          name TEXT NOT NULL,
          policy_type TEXT NOT NULL,
          description TEXT,
          fields TEXT NOT NULL,
          is_active INTEGER NOT NULL,
          created_at BIGINT NOT NULL,
          updated_at BIGINT NOT NULL
        )`,
        "CREATE UNIQUE INDEX secret_policies_name ON secret_policies (tenant_id, name)",
        `CREATE TABLE rotation_policies (
          id TEXT PRIMARY KEY,
          tenant_id TEXT NOT NULL,
          partner_id TEXT NOT NULL,
          name TEXT NOT NULL,
          description TEXT,
          interval_text TEXT NOT NULL,
          interval_seconds BIGINT NOT NULL,
          grace_period TEXT NOT NULL,
          grace_seconds BIGINT NOT NULL,
          warn_before TEXT,
          auto_generate INTEGER NOT NULL,
          secret_policy_id TEXT,
          webhook_ids TEXT NOT NULL,
          is_active INTEGER NOT NULL,
          created_at BIGINT NOT NULL,
          updated_at BIGINT NOT NULL
        )`,
        "CREATE UNIQUE INDEX rotation_policies_name ON rotation_policies (tenant_id, name)",
        // One row per secret under a policy: the cycle's state and the next moment the scheduler
        // must act on it. Claims re-check next_fire_at under the secret's row lock, so each moment
        // is acted on once however many nodes poll.
        `CREATE TABLE rotation_schedules (
          tenant_id TEXT NOT NULL,
          path ${path} NOT NULL,
          partner_id TEXT NOT NULL,
          policy_id TEXT NOT NULL,
          anchor_at BIGINT NOT NULL,
          last_rotated_at BIGINT,
          due_at BIGINT NOT NULL,
          state TEXT NOT NULL,
          warned INTEGER NOT NULL,
          next_fire_at BIGINT,
          pending_history_id TEXT,
          updated_at BIGINT NOT NULL,
          PRIMARY KEY (tenant_id, path)
        )`,
        "CREATE INDEX rotation_schedules_fire ON rotation_schedules (next_fire_at)",
        "CREATE INDEX rotation_schedules_policy ON rotation_schedules (policy_id)",
        `CREATE TABLE rotation_history (
          id TEXT PRIMARY KEY,
          tenant_id TEXT NOT NULL,
          policy_id TEXT NOT NULL,
          path ${path} NOT NULL,
          status TEXT NOT NULL,
          trigger_kind TEXT NOT NULL,
          old_version INTEGER,
          new_version INTEGER,
          auto_generated INTEGER NOT NULL,
          reason TEXT,
          due_at BIGINT,
          created_at BIGINT NOT NULL,
          completed_at BIGINT
        )`,
        "CREATE INDEX rotation_history_policy ON rotation_history (policy_id, created_at)",
        // Expiry notices (secret.expiring / secret.expired) per secret and expiry: `fired` lists the
        // thresholds already announced for this expires_at, so a restart never repeats one.
        `CREATE TABLE secret_expiry_watch (
          tenant_id TEXT NOT NULL,
          path ${path} NOT NULL,
          partner_id TEXT NOT NULL,
          expires_at BIGINT NOT NULL,
          notify_before TEXT,
          fired TEXT NOT NULL,
          next_fire_at BIGINT,
          PRIMARY KEY (tenant_id, path)
        )`,
        "CREATE INDEX secret_expiry_watch_fire ON secret_expiry_watch (next_fire_at)",
      ];
    },
  },
  {
    // A policy's history (a row per secret per rotation) listed newest first: along one index that
    // holds the order's both columns, so each page, and each step of a status filter's bounded
    // walk, starts at its cursor (round 24).
    id: "0061_rotation_history_list",
    up: () => ["DROP INDEX rotation_history_policy", "CREATE INDEX rotation_history_list ON rotation_history (tenant_id, policy_id, created_at, id)"],
  },
  {
    // GET /v1/rotation/due walks a tenant's schedules in (due_at, path) order: those due by the
    // window's end along the first, then cycles due or overdue past it along the second (partial: few).
    id: "0062_rotation_due_by_time",
    up: () => [
      "CREATE INDEX rotation_schedules_due ON rotation_schedules (tenant_id, due_at, path)",
      "CREATE INDEX rotation_schedules_unsettled ON rotation_schedules (tenant_id, due_at, path) WHERE state <> 'scheduled'",
    ],
  },
  {
    // History retention (FINISHED_ROTATIONS) finds finished rotations past the cutoff along the
    // first, and whether a newer finished one of the same secret and policy exists along the second.
    id: "0063_rotation_history_by_end",
    up: () => [
      "CREATE INDEX rotation_history_finished ON rotation_history (completed_at) WHERE completed_at IS NOT NULL",
      "CREATE INDEX rotation_history_secret ON rotation_history (tenant_id, policy_id, path, completed_at)",
    ],
  },
  {
    // The secrets that name a rotation or secret policy, for the policy's delete: clearing the
    // links, and refusing while a secret still uses a recipe. Each read every secret of the tenant
    // (200,000: ~20 ms of a SQLite node's loop per delete; round 34). Partial: most secrets name
    // neither, and their writes then touch no entry of either index.
    id: "0523_secrets_by_policy",
    up: () => [
      "CREATE INDEX secrets_rotation_policy ON secrets (tenant_id, rotation_policy_id) WHERE rotation_policy_id IS NOT NULL",
      "CREATE INDEX secrets_secret_policy ON secrets (tenant_id, secret_policy_id) WHERE secret_policy_id IS NOT NULL",
    ],
  },
];
