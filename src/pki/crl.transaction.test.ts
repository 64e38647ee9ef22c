import { afterEach, beforeAll, expect, it, vi } from "vitest";
import { describeEachBackend, onlyOn } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { countTurns } from "../testing/turns.js";
import { created, hierarchy } from "./testing.js";

/**
 * SQLite has one writer for the file: a write transaction that waits on anything but SQLite itself
 * (a WebCrypto digest runs on the thread pool) holds every other writer off meanwhile, and a second
 * node in the same process (the tests' two-node set-up) waited for it synchronously, holding up the
 * very loop the first needed to commit: a stale-CRL herd on two nodes answered 503 after 10 s under
 * load. The CRL's transaction resolves within one turn of the event loop.
 */
describeEachBackend("pki: a CRL's transaction waits on nothing but storage", (backend) => {
  const vault = useVault(backend);
  let h: Awaited<ReturnType<typeof hierarchy>>;
  beforeAll(async () => {
    h = await hierarchy(vault().admin, "crltx", { allowed_domains: ["svc.internal"], allow_subdomains: true });
  });
  afterEach(() => vi.restoreAllMocks());

  onlyOn(backend, "sqlite")("sqlite only: regenerating a stale CRL opens and commits its transaction in the same turn", async () => {
    const { admin, vault: server } = vault();
    const cert = await created(admin.post(`/v1/pki/issue/${h.role.name}`, { common_name: "turns.svc.internal" }));
    expect((await admin.post(`/v1/pki/certificates/${cert.id}/revoke`, { reason: "key_compromise" })).status).toBe(200);
    const turns = countTurns();
    const spans: { sql: string[]; turns: number }[] = [];
    const original = server.db.transaction.bind(server.db);
    vi.spyOn(server.db, "transaction").mockImplementation(((work: (tx: never) => Promise<unknown>) =>
      original(async (tx) => {
        const span = { sql: [] as string[], turns: turns.now() };
        const run = tx.run.bind(tx);
        const inner = Object.assign(Object.create(tx), { run: (sql: string, params?: never) => (span.sql.push(sql), run(sql, params)) });
        const value = await work(inner as never);
        span.turns = turns.now() - span.turns;
        spans.push(span);
        return value;
      })) as typeof server.db.transaction);
    try {
      const response = await fetch(`${vault().baseUrl}/v1/pki/ca/${h.int.id}/crl`);
      expect(response.status).toBe(200);
    } finally {
      turns.stop();
    }
    const signing = spans.filter((span) => span.sql.some((sql) => sql.startsWith("INSERT INTO pki_crls")));
    expect(signing).toHaveLength(1);
    expect(signing[0].turns).toBe(0);
  });
});
