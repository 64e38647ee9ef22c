import BetterSqlite3 from "better-sqlite3";
import pg from "pg";

/**
 * Filler secrets for the scale measurement: rows in the same tables and indexes as real ones, with
 * random bytes for ciphertext. They are never read (decrypting them would fail), only make the
 * tables as large as a vault holding that many secrets.
 */
export async function fillSecrets(databaseUrl: string, tenantId: string, partnerId: string, count: number): Promise<void> {
  const now = Date.now();
  const metadata = JSON.stringify({ description: null, tags: [], owner: null, custom: {} });
  if (databaseUrl.startsWith("sqlite:")) {
    const db = new BetterSqlite3(databaseUrl.slice("sqlite:".length));
    db.pragma("busy_timeout = 10000");
    const batch = 50_000;
    for (let start = 0; start < count; start += batch) {
      const n = Math.min(batch, count - start);
      db.exec("BEGIN IMMEDIATE");
      db.prepare(
        `WITH RECURSIVE seq(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
         INSERT INTO secrets (tenant_id, path, partner_id, secret_type, metadata, max_versions, current_version, created_at, updated_at)
         SELECT ?, 'filler/' || printf('%08d', i), ?, 'kv', ?, 10, 1, ?, ? FROM seq`,
      ).run(start, start + n - 1, tenantId, partnerId, metadata, now, now);
      db.prepare(
        `WITH RECURSIVE seq(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
         INSERT INTO secret_versions (tenant_id, path, version, secret_type, ciphertext, wrapped_key, key_id, created_at)
         SELECT ?, 'filler/' || printf('%08d', i), 1, 'kv', randomblob(64), randomblob(61), 'filler', ? FROM seq`,
      ).run(start, start + n - 1, tenantId, now);
      db.exec("COMMIT");
    }
    // The fill's WAL (gigabytes at 10M) is moved into the database file now, not by the vault's
    // checkpointer while the scenario is measured.
    db.pragma("wal_checkpoint(TRUNCATE)");
    db.close();
    return;
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO secrets (tenant_id, path, partner_id, secret_type, metadata, max_versions, current_version, created_at, updated_at)
       SELECT $1, 'filler/' || lpad(i::text, 8, '0'), $2, 'kv', $3, 10, 1, $4, $4 FROM generate_series(0, $5 - 1) AS i`,
      [tenantId, partnerId, metadata, now, count],
    );
    await client.query(
      `INSERT INTO secret_versions (tenant_id, path, version, secret_type, ciphertext, wrapped_key, key_id, created_at)
       SELECT $1, 'filler/' || lpad(i::text, 8, '0'), 1, 'kv', decode(md5(i::text) || md5((i + 1)::text), 'hex'),
              decode(md5(i::text), 'hex'), 'filler', $2 FROM generate_series(0, $3 - 1) AS i`,
      [tenantId, now, count],
    );
    await client.query("ANALYZE secrets; ANALYZE secret_versions");
  } finally {
    await client.end();
  }
}

/**
 * Filler audit entries (the growth scenario, issue 14): `count` rows in `audit_log` with the same
 * indexes as real ones, spread over the last `spanDays` days, in `tenantId` (so its filtered audit
 * queries look through them) but on a chain of their own (`filler:<tenant>`, with no head row: the
 * checkpoint job leaves it alone; `verify` would report these rows as not on the tenant's chain).
 * `paths` distinct secret paths (entry i is about path i mod `paths`; its identity and action follow
 * from i too): the default, 100,000, makes nearly every entry of a day its own summary group; a few
 * hundred is a trail of services reading their secrets. Inserted directly, in batches.
 */
export async function fillAudit(databaseUrl: string, partnerId: string, tenantId: string, count: number, spanDays = 365, paths = 100_000): Promise<void> {
  const now = Date.now();
  const span = spanDays * 86_400_000;
  const columns = "id, chain_id, seq, partner_id, tenant_id, timestamp, action, identity_type, identity_id, secret_path, source_ip, user_agent, success, status, duration_ms, request_id, extra_data, prev_hash, hash";
  const batch = 100_000;
  if (databaseUrl.startsWith("sqlite:")) {
    const db = new BetterSqlite3(databaseUrl.slice("sqlite:".length));
    db.pragma("busy_timeout = 10000");
    const insert = db.prepare(
      // CAST: better-sqlite3 binds a JS number as REAL, and every value computed from it would be
      // one too (identity 'sa:filler-7.0', timestamps stored as floats).
      `WITH RECURSIVE seq(i) AS (SELECT CAST(? AS INTEGER) UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
       INSERT INTO audit_log (${columns})
       SELECT 'log_filler' || printf('%010d', i), 'filler:' || ?, i + 1, ?, ?, CAST(? - ? + (i * ? / ?) AS INTEGER), CASE i % 4 WHEN 0 THEN 'write' ELSE 'read' END,
              'service_account', 'sa:filler-' || (i % 100), 'filler/' || printf('%06d', i % ?), '10.0.0.1', 'bench', 1, 200, 1, 'req_filler' || printf('%010d', i), '{}',
              lower(hex(randomblob(32))), lower(hex(randomblob(32))) FROM seq`,
    );
    for (let start = 0; start < count; start += batch) {
      const n = Math.min(batch, count - start);
      db.exec("BEGIN IMMEDIATE");
      insert.run(start, start + n - 1, tenantId, partnerId, tenantId, now, span, span, count, paths);
      db.exec("COMMIT");
    }
    // As for the secrets above: the fill's WAL goes into the database file now, not through the
    // vault's checkpointer during the measured scenario (round 6 meant this for the audit fill and
    // put it in fillSecrets only; round 20).
    db.pragma("wal_checkpoint(TRUNCATE)");
    db.close();
    return;
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (let start = 0; start < count; start += batch) {
      const n = Math.min(batch, count - start);
      await client.query(
        `INSERT INTO audit_log (${columns})
         SELECT 'log_filler' || lpad(i::text, 10, '0'), 'filler:' || $7::text, i + 1, $3, $7::text, $4::bigint - $5::bigint + (i::bigint * $5::bigint / $6::bigint),
                CASE i % 4 WHEN 0 THEN 'write' ELSE 'read' END, 'service_account', 'sa:filler-' || (i % 100), 'filler/' || lpad((i % $8::bigint)::text, 6, '0'),
                '10.0.0.1', 'bench', 1, 200, 1, 'req_filler' || lpad(i::text, 10, '0'), '{}', md5(i::text) || md5((i + 1)::text), md5((i + 2)::text) || md5((i + 3)::text)
         FROM generate_series($1::bigint, $2::bigint) AS i`,
        [start, start + n - 1, partnerId, now, span, count, tenantId, paths],
      );
    }
    // A table that grew over months has been vacuumed and checkpointed as it grew: without this,
    // autovacuum's pass over the freshly inserted rows and the checkpoint of the fill's dirty pages
    // run during the measurement, on the same two cores.
    await client.query("VACUUM (ANALYZE) audit_log");
    await client.query("CHECKPOINT");
  } finally {
    await client.end();
  }
}
