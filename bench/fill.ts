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
