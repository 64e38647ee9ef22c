import { request as httpRequest } from "node:http";
import { afterAll, expect, it } from "vitest";
import { hierarchy } from "../pki/testing.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type TestVault } from "../testing/harness.js";
import { until } from "../testing/observe.js";
import { BcryptWorker } from "./bcrypt-worker.js";
import { ExpensiveWork } from "./expensive-work.js";
import { GenerationGate } from "./generation-gate.js";

/** Sends a JSON POST as the admin and closes the connection without reading an answer, when told. */
function leavingPost(vault: TestVault, path: string, body: unknown) {
  const request = httpRequest(new URL(path, vault.baseUrl), { method: "POST", agent: false, headers: { authorization: `Bearer ${vault.adminToken}`, "content-type": "application/json" } });
  request.on("error", () => undefined);
  let answered = false;
  request.on("response", (response) => { answered = true; response.resume(); });
  request.end(JSON.stringify(body));
  return { leave: () => request.destroy(), answered: () => answered };
}

describeEachBackend("key generation: a request whose client left while it waited for its turn", (backend) => {
  // One generation at a time on this node; the test takes that turn itself to keep the requests waiting.
  const gate = new GenerationGate({ concurrency: 1, maxWaitingPerTenant: 8, maxWaitMs: 60_000 });
  const expensiveWork = new ExpensiveWork(gate, new BcryptWorker());
  const vault = useVault(backend, { expensiveWork });
  afterAll(() => expensiveWork.close());

  async function whileTheGateIsHeld(during: () => Promise<void>): Promise<void> {
    let release!: () => void;
    const holding = gate.run("tenant-holding-the-turn", () => new Promise<void>((resolve) => (release = resolve)));
    try {
      await during();
    } finally {
      release();
      await holding;
    }
  }

  it("issues no certificate, generates no key, and leaves the turn to the next request", async () => {
    const { admin } = vault();
    const h = await hierarchy(admin, "gone", { key_type: "rsa", key_bits: 2048 });
    await whileTheGateIsHeld(async () => {
      const issue = leavingPost(vault(), `/v1/pki/issue/${h.role.name}`, { common_name: "a.svc.cluster.local" });
      await until("the issue waiting for its turn", () => gate.waitingCount === 1, 10_000);
      issue.leave();
      await until("the abandoned issue leaving the queue", () => gate.waitingCount === 0, 10_000);
      expect(issue.answered()).toBe(false);
    });
    const listed = await admin.get("/v1/pki/certificates");
    expect(listed.status, listed.text).toBe(200);
    expect(listed.body.data).toEqual([]);
    const audited = await vault().vault.db.all<{ status: number | string; extra_data: string }>("SELECT status, extra_data FROM audit_log WHERE action = ?", ["pki_issue"]);
    expect(audited.map((row) => Number(row.status))).toEqual([503]);
    expect(JSON.parse(audited[0].extra_data)).toMatchObject({ error_code: "service_unavailable" });
    // The gate is free again: the next issue gets a certificate.
    const next = await admin.post(`/v1/pki/issue/${h.role.name}`, { common_name: "b.svc.cluster.local" });
    expect(next.status).toBe(201);
    expect((await admin.get("/v1/pki/certificates")).body.data).toHaveLength(1);
  });

  it("drops a recipe preview whose client left, and previews again afterwards", async () => {
    const { admin } = vault();
    const recipe = await admin.post("/v1/secret-policies", { name: "gone-preview", policy_type: "custom", fields: [{ name: "tls", generator: "rsa_keypair" }] });
    expect(recipe.status, recipe.text).toBe(201);
    await whileTheGateIsHeld(async () => {
      const preview = leavingPost(vault(), `/v1/secret-policies/${recipe.body.id}/preview`, {});
      await until("the preview waiting for its turn", () => gate.waitingCount === 1, 10_000);
      preview.leave();
      await until("the abandoned preview leaving the queue", () => gate.waitingCount === 0, 10_000);
    });
    const again = await admin.post(`/v1/secret-policies/${recipe.body.id}/preview`, {});
    expect(again.status, again.text).toBe(200);
    expect(again.body.data.tls).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });
});
