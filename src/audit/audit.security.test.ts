import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { buildVault } from "../app.js";
import { loadConfig } from "../config/config.js";
import { describeEachBackend } from "../testing/backends.js";
import { ApiClient, useVault, type TestVault } from "../testing/harness.js";
import { laneChainIds, PG_CHAIN_LANES } from "./chain.js";
import { identityWith } from "./test-fixtures.js";

const CHAIN = "tenant:tnt_default";
const SECRET_VALUE = "hunter2-" + randomBytes(8).toString("hex");

async function rowAt(t: TestVault, seq: number): Promise<Record<string, unknown>> {
  const row = await t.vault.db.get<Record<string, unknown>>("SELECT * FROM audit_log WHERE chain_id = ? AND seq = ?", [CHAIN, seq]);
  if (!row) throw new Error(`no entry at seq ${seq}`);
  return row;
}

async function reinsert(t: TestVault, row: Record<string, unknown>): Promise<void> {
  const columns = Object.keys(row);
  await t.vault.db.run(`INSERT INTO audit_log (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`, columns.map((c) => row[c] as never));
}

const ROOT = new URL("../..", import.meta.url).pathname;

/** `scaivault audit verify`, run from the sources as a separate process. */
function cliVerify(t: TestVault): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env.PATH ?? "", HOME: mkdtempSync(join(tmpdir(), "scaivault-cli-")), SCAIVAULT_URL: t.baseUrl, SCAIVAULT_TOKEN: t.adminToken };
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "audit", "verify"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout }));
  });
}

async function verify(t: TestVault) {
  const response = await t.admin.get("/v1/audit/verify");
  expect(response.status).toBe(200);
  return response.body;
}

describeEachBackend("audit: tamper evidence and secrecy", (backend) => {
  const vault = useVault(backend);

  it("builds a chain that verifies", async () => {
    const t = vault();
    for (let i = 0; i < 4; i++) {
      expect((await t.admin.put(`/v1/secrets/app/db${i}`, { data: { password: SECRET_VALUE } })).status).toBe(201);
      expect((await t.admin.get(`/v1/secrets/app/db${i}`)).status).toBe(200);
    }
    const result = await verify(t);
    expect(result).toMatchObject({ ok: true });
    expect(result.entries).toBeGreaterThanOrEqual(8);
  });

  it("names an edited entry, and passes again once it is restored", async () => {
    const t = vault();
    const original = await rowAt(t, 3);
    await t.vault.db.run("UPDATE audit_log SET identity_id = ? WHERE id = ?", ["user:someone-else", original.id as string]);
    expect(await verify(t)).toMatchObject({ ok: false, first_bad_entry: original.id, reason: "hash_mismatch", chain: CHAIN });
    const tampered = await cliVerify(t);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toContain(`first bad entry ${original.id as string} (hash_mismatch)`);
    await t.vault.db.run("UPDATE audit_log SET identity_id = ? WHERE id = ?", [original.identity_id as string, original.id as string]);
    expect((await verify(t)).ok).toBe(true);
    const clean = await cliVerify(t);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/^ok: \d+ entries verified/);

    await t.vault.db.run("UPDATE audit_log SET success = 0 WHERE id = ?", [original.id as string]);
    expect(await verify(t)).toMatchObject({ ok: false, first_bad_entry: original.id, reason: "hash_mismatch" });
    await t.vault.db.run("UPDATE audit_log SET success = ? WHERE id = ?", [original.success as number, original.id as string]);
    expect((await verify(t)).ok).toBe(true);
  });

  it("names the entry after a deleted one", async () => {
    const t = vault();
    const deleted = await rowAt(t, 4);
    const next = await rowAt(t, 5);
    await t.vault.db.run("DELETE FROM audit_log WHERE id = ?", [deleted.id as string]);
    expect(await verify(t)).toMatchObject({ ok: false, first_bad_entry: next.id, reason: "sequence_gap" });
    await reinsert(t, deleted);
    expect((await verify(t)).ok).toBe(true);
  });

  it("catches swapped entries", async () => {
    const t = vault();
    const a = await rowAt(t, 5);
    const b = await rowAt(t, 6);
    // Through a free slot: (chain_id, seq) is unique.
    const place = async (aSeq: number, bSeq: number) => {
      await t.vault.db.run("UPDATE audit_log SET seq = -1 WHERE id = ?", [a.id as string]);
      await t.vault.db.run("UPDATE audit_log SET seq = ? WHERE id = ?", [bSeq, b.id as string]);
      await t.vault.db.run("UPDATE audit_log SET seq = ? WHERE id = ?", [aSeq, a.id as string]);
    };
    await place(6, 5);
    expect(await verify(t)).toMatchObject({ ok: false, first_bad_entry: b.id, reason: "hash_mismatch" });
    await place(5, 6);
    expect((await verify(t)).ok).toBe(true);

    // Swapping the content but keeping each row's place in the chain fails the same way.
    const fields = ["secret_path", "action", "request_id"];
    const set = (row: Record<string, unknown>, from: Record<string, unknown>) =>
      t.vault.db.run(`UPDATE audit_log SET ${fields.map((f) => `${f} = ?`).join(", ")} WHERE id = ?`, [...fields.map((f) => from[f] as string), row.id as string]);
    await set(a, b);
    await set(b, a);
    expect(await verify(t)).toMatchObject({ ok: false, first_bad_entry: a.id, reason: "hash_mismatch" });
    await set(a, a);
    await set(b, b);
    expect((await verify(t)).ok).toBe(true);
  });

  it("notices the newest entries deleted, and entries inserted outside the chain", async () => {
    const t = vault();
    const head = await t.vault.db.get<{ seq: number }>("SELECT seq FROM audit_chain_heads WHERE chain_id = ?", [CHAIN]);
    const last = await rowAt(t, Number(head!.seq));
    await t.vault.db.run("DELETE FROM audit_log WHERE id = ?", [last.id as string]);
    const truncated = await verify(t);
    expect(truncated).toMatchObject({ ok: false, reason: "truncated", first_bad_entry: null });
    await reinsert(t, last);
    expect((await verify(t)).ok).toBe(true);

    const forged = { ...(await rowAt(t, 2)), id: "log_forged000000000000", chain_id: null, seq: null };
    await reinsert(t, forged);
    expect(await verify(t)).toMatchObject({ ok: false, reason: "unchained_entry", first_bad_entry: "log_forged000000000000" });
    await t.vault.db.run("DELETE FROM audit_log WHERE id = ?", ["log_forged000000000000"]);
    expect((await verify(t)).ok).toBe(true);
  });

  it("stores no secret value or token in any entry", async () => {
    const t = vault();
    const reporter = await identityWith(t, { id: "sa:secrecy", type: "service_account", scopes: ["secrets:read", "secrets:write"], rules: [{ path_pattern: "app/**", permissions: ["read", "write"] }] });
    await reporter.put("/v1/secrets/app/db0", { data: { password: SECRET_VALUE, token: "skt_notreallyatoken" } });
    await reporter.get("/v1/secrets/app/db0");
    await reporter.get("/v1/secrets/app/db0", { token: `${t.adminToken}x` });
    const rows = await t.vault.db.all<Record<string, unknown>>("SELECT * FROM audit_log");
    const dump = JSON.stringify(rows);
    expect(rows.length).toBeGreaterThan(10);
    expect(dump).not.toContain(SECRET_VALUE);
    expect(dump).not.toContain(t.adminToken);
    expect(dump).not.toContain(reporter.token!);
    expect(dump).not.toContain("skt_");
    // The token behind an entry can be correlated by its HMAC, never by the token itself.
    const own = rows.filter((r) => r.identity_id === "sa:secrecy").map((r) => JSON.parse(r.extra_data as string).token_id_hmac);
    expect(new Set(own).size).toBe(1);
    expect(own[0]).toMatch(/^[0-9a-f]{64}$/);
  });

  it("keeps the chain unforked when two nodes share the database under concurrency", async () => {
    const t = vault();
    const second = await buildVault(
      loadConfig({
        BIND_ADDRESS: "127.0.0.1:0",
        DATABASE_URL: t.database.url,
        KMS_LOCAL_KEY: t.vault.config.kms.localKey!.toString("base64"),
        SCAIVAULT_BOOTSTRAP_TOKEN: t.adminToken,
        LOG_LEVEL: "silent",
        DATABASE_POOL_SIZE: "4",
        // As the harness sets for the first node: CPU contention between suites must not shed requests.
        SCAIVAULT_MAX_EVENT_LOOP_DELAY: "60s",
      }),
    );
    try {
      const address = await second.app.listen({ host: "127.0.0.1", port: 0 });
      const other = new ApiClient(address.replace("localhost", "127.0.0.1"), t.adminToken);
      // Concurrent entries spread over the tenant chain's lanes on PostgreSQL (audit.lanes tests).
      const lanes = laneChainIds(CHAIN, PG_CHAIN_LANES);
      const inLanes = `SELECT COUNT(*) AS n FROM audit_log WHERE chain_id IN (${lanes.map(() => "?").join(", ")})`;
      const before = await t.vault.db.get<{ n: number }>(inLanes, lanes);
      const nodes = [t.admin, other];
      const requests = Array.from({ length: 120 }, (_, i) => {
        const node = nodes[i % 2];
        return i % 3 === 0 ? node.put(`/v1/secrets/race/s${i % 7}`, { data: { i } }) : node.get(`/v1/secrets/app/db${i % 4}`);
      });
      const responses = await Promise.all(requests);
      expect(responses.filter((r) => r.status >= 300).map((r) => r.text)).toEqual([]);
      const after = await t.vault.db.get<{ n: number }>(inLanes, lanes);
      expect(Number(after!.n) - Number(before!.n)).toBe(120);
      const ids = responses.map((r) => r.headers.get("x-request-id")!);
      const found = await t.vault.db.all<{ request_id: string }>(`SELECT request_id FROM audit_log WHERE request_id IN (${ids.map(() => "?").join(", ")})`, ids);
      expect(new Set(found.map((f) => f.request_id))).toEqual(new Set(ids));
      expect(await verify(t)).toMatchObject({ ok: true });
    } finally {
      await second.close();
    }
  });
});

describeEachBackend("audit: tenant isolation", (backend) => {
  const vault = useVault(backend);

  it("keeps each tenant's trail and chain to itself; the partner admin verifies them all", async () => {
    const t = vault();
    expect((await t.admin.post("/v1/identity/tenants", { id: "tnt_other", name: "Other" })).status).toBe(201);
    await t.admin.put("/v1/secrets/default/only", { data: { v: 1 } });
    await t.admin.put("/v1/secrets/other/only", { data: { v: 2 } }, { headers: { "x-tenant-id": "tnt_other" } });
    const otherAuditor = await identityWith(t, { id: "sa:other-auditor", type: "service_account", scopes: ["audit:read"], rules: [{ path_pattern: "**", permissions: ["read"] }], tenantId: "tnt_other" });
    const logs = await otherAuditor.get("/v1/audit/logs?limit=1000");
    expect(logs.status).toBe(200);
    expect(logs.body.logs.length).toBeGreaterThan(0);
    expect(logs.body.logs.every((l: { tenant_id: string }) => l.tenant_id === "tnt_other")).toBe(true);
    expect(logs.body.logs.some((l: { secret_path: string }) => l.secret_path === "default/only")).toBe(false);
    // Not a partner admin: naming the default tenant is refused, whatever its policies say.
    const cross = await otherAuditor.get("/v1/audit/logs", { headers: { "x-tenant-id": "tnt_default" } });
    expect(cross.status).toBe(403);
    expect(cross.body.error.code).toBe("tenant_access_denied");
    const own = await otherAuditor.get("/v1/audit/verify");
    expect(own.body).toMatchObject({ ok: true, chains: 1 });
    const all = await t.admin.get("/v1/audit/verify");
    expect(all.body.ok).toBe(true);
    expect(all.body.chains).toBeGreaterThanOrEqual(3);
    const heads = await t.vault.db.all<{ chain_id: string }>("SELECT chain_id FROM audit_chain_heads ORDER BY chain_id");
    expect(heads.map((h) => h.chain_id)).toEqual(expect.arrayContaining(["tenant:tnt_default", "tenant:tnt_other"]));
  });
});
