import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openDatabase } from "../storage/open.js";
import { describeEachBackend, scratchDatabase, type ScratchDatabase } from "../testing/backends.js";
import { ApiClient } from "../testing/harness.js";
import { freePort } from "../testing/ports.js";
import { exited, startServer } from "../testing/processes.js";

describeEachBackend("audit: kill -9 under load", (backend) => {
  let database: ScratchDatabase;
  beforeAll(async () => {
    database = await scratchDatabase(backend);
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("keeps an entry for every 2xx and a chain that verifies after a crash", async () => {
    const adminToken = `skt_${randomBytes(32).toString("base64url")}`;
    const env = {
      DATABASE_URL: database.url,
      KMS_LOCAL_KEY: randomBytes(32).toString("base64"),
      SCAIVAULT_BOOTSTRAP_TOKEN: adminToken,
      SCAIVAULT_AUDIT_EXPORT_DIR: join(database.dir, "exports"),
      RATE_LIMIT_READ: "1000000",
      RATE_LIMIT_WRITE: "1000000",
      RATE_LIMIT_AUDIT_QUERY: "1000000",
    };
    const port = await freePort();
    const server = await startServer(env, port);
    const client = new ApiClient(`http://127.0.0.1:${port}`, adminToken);
    for (let i = 0; i < 5; i++) expect((await client.put(`/v1/secrets/crash/s${i}`, { data: { n: 0 } })).status).toBe(201);

    const acknowledged: Array<{ requestId: string; write: boolean; path: string; version?: number }> = [];
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const path = `crash/s${(w + i) % 5}`;
        const write = i % 4 === 0;
        try {
          const response = write ? await client.put(`/v1/secrets/${path}`, { data: { n: i, w } }) : await client.get(`/v1/secrets/${path}`);
          if (response.status >= 200 && response.status < 300) {
            acknowledged.push({ requestId: response.headers.get("x-request-id")!, write, path, version: response.body?.version });
          }
        } catch {
          return; // the server is gone
        }
      }
    };
    const workers = Array.from({ length: 16 }, (_, w) => worker(w));
    while (acknowledged.length < 300) await new Promise((resolve) => setTimeout(resolve, 20));
    server.kill("SIGKILL");
    await exited(server);
    stop = true;
    await Promise.all(workers);
    expect(server.signalCode).toBe("SIGKILL");

    const restarted = await startServer(env, port);
    try {
      const db = openDatabase(database.url);
      try {
        const ids = acknowledged.map((a) => a.requestId);
        const found = new Set<string>();
        for (let start = 0; start < ids.length; start += 500) {
          const part = ids.slice(start, start + 500);
          const rows = await db.all<{ request_id: string }>(`SELECT request_id FROM audit_log WHERE request_id IN (${part.map(() => "?").join(", ")})`, part);
          for (const row of rows) found.add(row.request_id);
        }
        const missing = ids.filter((id) => !found.has(id));
        expect({ acknowledged: ids.length, missing }).toEqual({ acknowledged: ids.length, missing: [] });
        // Every acknowledged write is there too (older versions age out, so compare with the current one).
        for (const write of acknowledged.filter((a) => a.write)) {
          const row = await db.get<{ current_version: number }>("SELECT current_version FROM secrets WHERE path = ?", [write.path]);
          expect(Number(row?.current_version), `${write.path} v${write.version}`).toBeGreaterThanOrEqual(write.version!);
        }
      } finally {
        await db.close();
      }
      const verify = await client.get("/v1/audit/verify");
      expect(verify.status).toBe(200);
      expect(verify.body).toMatchObject({ ok: true });
      expect(verify.body.entries).toBeGreaterThanOrEqual(acknowledged.length);
    } finally {
      restarted.kill("SIGKILL");
      await exited(restarted);
    }
  }, 120_000);
});
