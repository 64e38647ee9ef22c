import pg from "pg";
import { expect, it, vi } from "vitest";
import { laneChainIds, PG_CHAIN_LANES } from "../audit/chain.js";
import { describeEachBackend, onlyOn } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { until } from "../testing/observe.js";

const PATH = "deadlock/created";

/**
 * A write takes its audit lane with its secret's row lock (`ChainAppender.lockAhead`). Two writes
 * creating one new secret can then deadlock on PostgreSQL: B holds a lane and waits for A's
 * uncommitted row; A found no lane free and waits for B's. PostgreSQL aborts one of them; the
 * write is retried, so both callers get their answer and nothing is lost.
 */
describeEachBackend("secrets: two creates of one path around a held audit lane", (backend) => {
  const vault = useVault(backend);

  onlyOn(backend, "postgres")("postgres only: the deadlock PostgreSQL breaks is retried; both writes land, chained", async () => {
    const { admin } = vault();
    // The tenant's lanes exist once it has written anything.
    expect((await admin.put("/v1/secrets/deadlock/seed", { data: { v: "0" } })).status).toBe(201);
    const lanes = laneChainIds("tenant:tnt_default", PG_CHAIN_LANES);
    const holders: pg.Client[] = [];
    const realQuery = pg.Client.prototype.query;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let held = false;
    try {
      // Every lane but the last is held elsewhere, so the first write takes the last one.
      for (const lane of lanes.slice(0, -1)) {
        const client = new pg.Client({ connectionString: vault().vault.config.databaseUrl });
        await client.connect();
        await client.query("BEGIN");
        await client.query("SELECT seq FROM audit_chain_heads WHERE chain_id = $1 FOR UPDATE", [lane]);
        holders.push(client);
      }
      // B's second message (its rows, entry and COMMIT) waits until A has written its rows and
      // waits for a lane: B's transaction is the connection whose BEGIN first names the path.
      let bClient: pg.Client | null = null;
      vi.spyOn(pg.Client.prototype, "query").mockImplementation(function (this: pg.Client, ...args: unknown[]) {
        const config = args[0] as string | { text: string };
        const text = typeof config === "string" ? config : config.text;
        if (!bClient && text.startsWith("BEGIN") && text.includes(`'${PATH}'`)) bClient = this;
        else if (bClient === this && !held) {
          held = true;
          return gate.then(() => (realQuery as (...a: unknown[]) => unknown).apply(this, args)) as never;
        }
        return (realQuery as (...a: unknown[]) => unknown).apply(this, args) as never;
      });
      const b = admin.put(`/v1/secrets/${PATH}`, { data: { v: "b" } });
      await until("B's last message", () => held, 10_000, 25);
      // A finds every lane held and waits on one chosen at random: B's.
      vi.spyOn(Math, "random").mockReturnValue(0.999);
      const a = admin.put(`/v1/secrets/${PATH}`, { data: { v: "a" } });
      const observer = holders[0];
      await until("A to wait for a lane", async () => {
        const waiting = await observer.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
        return waiting.rows[0].n >= 1;
      }, 10_000, 25);
      vi.mocked(Math.random).mockRestore();
      release();
      const statuses = [(await a).status, (await b).status].sort();
      expect(statuses).toEqual([200, 201]);
    } finally {
      vi.restoreAllMocks();
      release();
      for (const client of holders) await client.end();
    }
    const secret = await admin.get(`/v1/secrets/${PATH}`);
    expect(secret.body).toMatchObject({ version: 2 });
    const writes = await vault().vault.db.all<{ seq: number }>("SELECT seq FROM audit_log WHERE secret_path = ? AND action = 'write'", [PATH]);
    expect(writes).toHaveLength(2);
    expect((await admin.get("/v1/audit/verify")).body).toMatchObject({ ok: true });
  });
});
