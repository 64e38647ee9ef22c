import type { Database, DialectTypes, Migration } from "./contract.js";

const MIGRATION_LOCK = 7283001;

/**
 * Applies pending migrations in id order, each in its own transaction with its bookkeeping row.
 * On PostgreSQL an advisory lock makes nodes starting together apply each migration once.
 */
export async function runMigrations(db: Database, migrations: readonly Migration[], types: DialectTypes): Promise<string[]> {
  // Under the same lock as the migrations: PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe
  // against a concurrent one (it fails with a unique violation in its catalog).
  await db.transaction(async (tx) => {
    if (types.dialect === "postgres") await tx.run(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await tx.run("CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)");
  });
  const ordered = [...migrations].sort((a, b) => a.id.localeCompare(b.id));
  const ids = new Set<string>();
  for (const migration of ordered) {
    if (ids.has(migration.id)) throw new Error(`duplicate migration id ${migration.id}`);
    ids.add(migration.id);
  }
  const applied: string[] = [];
  for (const migration of ordered) {
    const done = await db.transaction(async (tx) => {
      if (types.dialect === "postgres") await tx.run(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
      const existing = await tx.get("SELECT id FROM schema_migrations WHERE id = ?", [migration.id]);
      if (existing) return false;
      for (const statement of migration.up(types)) await tx.run(statement);
      await tx.run("INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)", [migration.id, Date.now()]);
      return true;
    });
    if (done) applied.push(migration.id);
  }
  return applied;
}
