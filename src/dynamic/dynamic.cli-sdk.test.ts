import { afterAll, beforeAll, expect, it } from "vitest";
import { ScaiVaultClient, type Lease } from "@scailabs/scaivault";
import { cli, useCliHome } from "../cli/cli-harness.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { grantEngineRoot, redisCli, redisScratch, until, type Scratch } from "./testing.js";

describeEachBackend("dynamic: the CLI (scaivault dynamic creds) and the TypeScript SDK (client.dynamic)", (backend) => {
  const vault = useVault(backend);
  const { env } = useCliHome(vault);
  let redis: Scratch & { prefix: string };

  beforeAll(async () => {
    redis = await redisScratch();
    const { admin } = vault();
    await grantEngineRoot(admin, "cli-cache", "infra/cli/redis", { username: redis.rootUser, password: redis.rootPassword });
    const engine = await admin.post("/v1/dynamic/engines", { name: "cli-cache", type: "database.redis", config: { connection_url: redis.connectionUrl, root_credentials_path: "infra/cli/redis" } });
    if (engine.status !== 201) throw new Error(engine.text);
    await admin.post("/v1/dynamic/engines/cli-cache/roles", { name: "reader", creation_statements: [`~${redis.prefix}*`, "+get"] });
    // Short lives for the renewal helper: renewed by 4 s at a time, never past 10 s.
    const short = await admin.post("/v1/dynamic/engines/cli-cache/roles", { name: "short", creation_statements: [`~${redis.prefix}*`, "+get"], default_ttl: "4s", max_ttl: "10s" });
    if (short.status !== 201) throw new Error(short.text);
  });
  afterAll(async () => {
    await redis?.drop();
  });

  it("scaivault dynamic creds prints a working credential; renew and revoke act on its lease", async () => {
    const made = await cli(["dynamic", "creds", "cli-cache", "reader", "--ttl", "10m", "--json"], env());
    expect(made.stderr).toBe("");
    expect(made.code).toBe(0);
    const lease = JSON.parse(made.stdout);
    redis.track(lease.data.username);
    expect((await redisCli(redis, lease.data.username, lease.data.password, "GET", `${redis.prefix}a`)).stdout.trim()).toBe("alpha");
    const table = await cli(["dynamic", "leases", "--engine", "cli-cache"], env());
    expect(table.stdout).toContain(lease.lease_id);
    const renewed = JSON.parse((await cli(["dynamic", "renew", lease.lease_id, "--increment", "20m", "--json"], env())).stdout);
    expect(Date.parse(renewed.expires_at)).toBeGreaterThan(Date.parse(lease.expires_at));
    const revoked = await cli(["dynamic", "revoke", lease.lease_id], env());
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/state\s+revoked/);
    expect((await redisCli(redis, lease.data.username, lease.data.password, "GET", `${redis.prefix}a`)).stderr).toMatch(/WRONGPASS/);
    const missing = await cli(["dynamic", "creds", "cli-cache", "nope"], env());
    expect([missing.code, missing.stderr]).toEqual([4, expect.stringContaining("role_not_found")]);
  }, 120_000);

  it("client.dynamic.creds, renew and revoke from the SDK", async () => {
    const client = new ScaiVaultClient({ baseUrl: vault().baseUrl, token: vault().adminToken });
    try {
      const lease = await client.dynamic.creds("cli-cache", "reader", { ttl: "5m" });
      redis.track(lease.data.username as string);
      expect(lease.data.username).toMatch(/^v_reader_/);
      const renewed = await client.dynamic.renew(lease.lease_id, { increment: "10m" });
      expect(renewed.state).toBe("active");
      expect((await client.dynamic.leases({ engine: "cli-cache", state: "active" })).data.map((l) => l.lease_id)).toContain(lease.lease_id);
      expect((await client.dynamic.revoke(lease.lease_id)).state).toBe("revoked");
      await expect(client.dynamic.renew(lease.lease_id)).rejects.toMatchObject({ code: "lease_revoked", status: 410 });
    } finally {
      client.close();
    }
  });

  it("client.dynamic.keepRenewed renews before each end until max_ttl, then says so; stopped, it renews nothing", async () => {
    const client = new ScaiVaultClient({ baseUrl: vault().baseUrl, token: vault().adminToken });
    try {
      const lease = await client.dynamic.creds("cli-cache", "short");
      redis.track(lease.data.username as string);
      const renewals: Lease[] = [];
      const ended = new Promise<unknown>((resolve) => {
        client.dynamic.keepRenewed(lease, { onRenew: (next) => renewals.push(next), onEnd: resolve }, 0.25);
      });
      // A hang detector only: the lease reaches its 10 s max after a few renewals.
      const reason = await Promise.race([ended, new Promise((resolve) => setTimeout(() => resolve("hung"), 60_000))]);
      expect(reason).toBe("max_ttl");
      expect(renewals.length).toBeGreaterThanOrEqual(2);
      const ends = renewals.map((r) => Date.parse(r.expires_at));
      expect(ends[0]).toBeGreaterThan(Date.parse(lease.expires_at));
      for (let i = 1; i < ends.length; i++) expect(ends[i]).toBeGreaterThanOrEqual(ends[i - 1]);
      const last = renewals[renewals.length - 1];
      expect(last).toMatchObject({ state: "active", renewable: false, expires_at: last.max_expires_at });
      // It kept the credential alive throughout: the lease never ended before its max.
      expect((await client.dynamic.lease(lease.lease_id)).state).toBe("active");
      expect((await redisCli(redis, lease.data.username as string, lease.data.password as string, "GET", `${redis.prefix}a`)).stdout.trim()).toBe("alpha");

      const stoppedLease = await client.dynamic.creds("cli-cache", "short");
      redis.track(stoppedLease.data.username as string);
      let renewedAfterStop = 0;
      const stop = client.dynamic.keepRenewed(stoppedLease, { onRenew: () => renewedAfterStop++ }, 0.25);
      stop();
      await until(() => client.dynamic.lease(stoppedLease.lease_id), (l) => l.state === "expired");
      expect(renewedAfterStop).toBe(0);
      expect((await client.dynamic.lease(stoppedLease.lease_id)).last_renewed_at).toBeNull();
    } finally {
      client.close();
    }
  }, 120_000);
});
