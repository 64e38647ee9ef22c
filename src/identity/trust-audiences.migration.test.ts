import { expect, it } from "vitest";
import { ALL_MIGRATIONS } from "../storage/migrations.js";
import { describeEachBackend, useScratchDatabase } from "../testing/backends.js";
import { TrustStore } from "./trust-store.js";

/** Migration 0525 on a database that already holds trusts: each accepts its audiences after it, as before. */
describeEachBackend("identity: trust audiences on upgrade", (backend) => {
  const database = useScratchDatabase(backend, ALL_MIGRATIONS.filter((m) => m.id !== "0525_exchange_trust_audiences"));

  it("indexes every stored trust's audiences (each once), and exchanges find them by issuer, audience and tenant", async () => {
    const db = database();
    const insert = (id: string, tenant: string, audiences: string[], enabled = 1) =>
      db.run(
        `INSERT INTO exchange_trusts (id, partner_id, tenant_id, name, issuer, enabled, body, created_by, created_at, updated_at) VALUES (?, 'ptn_x', ?, ?, 'https://issuer.example', ?, ?, NULL, ?, 0)`,
        [id, tenant, id, enabled, JSON.stringify({ description: null, audiences, jwksUrl: null, jwks: null, algorithms: ["RS256"], defaultTtl: "1h", maxTtl: "1h", rules: [] }), Number(id.slice(-1))],
      );
    await insert("trust_a1", "tnt_a", ["aud-1", "aud-2", "aud-1"]);
    await insert("trust_a2", "tnt_a", ["aud-2"]);
    await insert("trust_b3", "tnt_b", ["aud-3"]);
    await insert("trust_b4", "tnt_b", ["aud-2"], 0);
    expect(await db.migrate(ALL_MIGRATIONS)).toEqual(["0525_exchange_trust_audiences"]);
    expect(Number((await db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM exchange_trust_audiences"))?.n)).toBe(5);
    const trusts = new TrustStore(db, 100);
    const ids = async (audiences: string[], tenant: string | null) => {
      const found = await trusts.accepting("https://issuer.example", audiences, tenant);
      return { ids: found.trusts.map((t) => t.id), several: found.several };
    };
    expect(await ids(["aud-2"], null)).toEqual({ ids: ["trust_a1", "trust_a2"], several: false });
    expect(await ids(["aud-1", "aud-3"], null)).toEqual({ ids: [], several: true });
    expect(await ids(["aud-1", "aud-3"], "tnt_b")).toEqual({ ids: ["trust_b3"], several: false });
    expect(await ids(["aud-9"], null)).toEqual({ ids: [], several: false });
  });
});
