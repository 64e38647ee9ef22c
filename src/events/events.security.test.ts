import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { TestReceiver } from "./test-receiver.js";

const WEBHOOK_SECRET = "whsec_never_on_disk_7f3a9c";
const ROTATED_SECRET = "whsec_rotated_never_on_disk_c41d";
const SUB_SECRET = "whsec_subscription_never_on_disk_92be";

describeEachBackend("events: signing secrets stay secret", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_EVENTS_POLL_INTERVAL: "100ms" } });
  const receiver = new TestReceiver();
  beforeAll(async () => {
    await receiver.start();
  });
  afterAll(async () => {
    await receiver.stop();
  });

  it("never shows, logs, audits or stores a signing secret in plaintext", async () => {
    const { admin, logs, database } = vault();
    const hook = await admin.post("/v1/webhooks", { name: "s", url: `${receiver.url}/s`, secret: WEBHOOK_SECRET, events: ["secret.created", "webhook.test"] });
    const sub = await admin.post("/v1/subscriptions", { name: "s", paths: ["**"], events: ["secret.created"], delivery: { type: "webhook", url: `${receiver.url}/sub`, secret: SUB_SECRET } });
    const patched = await admin.patch(`/v1/webhooks/${hook.body.id}`, { secret: ROTATED_SECRET, previous_secret_ttl: "1h" });
    // The scan below proves something only if every secret was actually stored and used.
    expect(hook.status, hook.text).toBe(201);
    expect(sub.status, sub.text).toBe(201);
    expect(patched.status, patched.text).toBe(200);
    expect((await admin.post(`/v1/webhooks/${hook.body.id}/test`)).status).toBe(200);
    expect((await admin.put("/v1/secrets/sec/one", { data: { value: "plain" } })).status).toBe(201);
    await receiver.waitFor((all) => all.filter((r) => r.event?.event_type === "secret.created").length >= 2);
    const responses = [hook, sub, patched, await admin.get(`/v1/webhooks/${hook.body.id}`), await admin.get("/v1/webhooks"), await admin.get(`/v1/subscriptions/${sub.body.id}`), await admin.get("/v1/subscriptions"), await admin.get("/v1/audit/logs?limit=500")];
    const secrets = [WEBHOOK_SECRET, ROTATED_SECRET, SUB_SECRET];
    for (const text of [...responses.map((r) => r.text), logs.join(""), ...receiver.received.map((r) => r.raw + JSON.stringify(r.headers))]) {
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
    // What reached the database: every table's rows as text, and on SQLite the files themselves.
    const tables = ["webhooks", "subscriptions", "event_deliveries", "events", "audit_log"];
    for (const table of tables) {
      const dump = JSON.stringify(await vault().vault.db.all(`SELECT * FROM ${table}`), (_k, v) => (v && v.type === "Buffer" ? Buffer.from(v.data).toString("latin1") : v));
      for (const secret of secrets) expect(dump).not.toContain(secret);
    }
    if (database.file) {
      const dir = join(database.file, "..");
      for (const name of readdirSync(dir)) {
        const bytes = readFileSync(join(dir, name)).toString("latin1");
        for (const secret of secrets) expect(bytes).not.toContain(secret);
      }
    }
  });

  it("keeps a sealed secret bound to its own webhook: copied to another row it does not open", async () => {
    const { admin } = vault();
    const a = await admin.post("/v1/webhooks", { name: "a", url: `${receiver.url}/a`, secret: "secret-a", events: ["webhook.test"] });
    const b = await admin.post("/v1/webhooks", { name: "b", url: `${receiver.url}/b`, secret: "secret-b", events: ["webhook.test"] });
    const db = vault().vault.db;
    const row = await db.get<{ secret_sealed: Buffer }>("SELECT secret_sealed FROM webhooks WHERE id = ?", [a.body.id]);
    await db.run("UPDATE webhooks SET secret_sealed = ? WHERE id = ?", [Buffer.from(row!.secret_sealed), b.body.id]);
    const test = await admin.post(`/v1/webhooks/${b.body.id}/test`);
    expect(test.status).toBe(500);
    expect(test.body.error.code).toBe("internal_error");
    expect(test.text).not.toContain("secret-a");
    expect(receiver.received.filter((r) => r.path === "/b")).toHaveLength(0);
  });
});
