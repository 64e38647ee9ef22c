import { expect, it } from "vitest";
import { describeEachBackend, onlyOn } from "../testing/backends.js";
import { recordPgMessages } from "../testing/pg-messages.js";
import { useVault } from "../testing/harness.js";

/** How many messages a new version's transaction sends on PostgreSQL (issue 14: each is a round trip that holds the secret's row lock). */
describeEachBackend("secrets: a new version's round trips", (backend) => {
  const vault = useVault(backend);

  it("a new version is stored, read back and audited whatever the backend sends", async () => {
    const { admin } = vault();
    expect((await admin.put("/v1/secrets/trips/kept", { data: { v: "1" } })).status).toBe(201);
    expect((await admin.put("/v1/secrets/trips/kept", { data: { v: "2" }, options: { max_versions: 1 } })).status).toBe(200);
    expect((await admin.get("/v1/secrets/trips/kept")).body).toMatchObject({ version: 2, data: { v: "2" } });
    // max_versions 1: the write aged version 1 out in the same statement.
    expect((await admin.get("/v1/secrets/trips/kept?version=1")).status).toBe(404);
    const entries = await vault().vault.db.all<{ action: string }>("SELECT action FROM audit_log WHERE secret_path = ? ORDER BY seq", ["trips/kept"]);
    expect(entries.filter((e) => e.action === "write")).toHaveLength(2);
  });

  onlyOn(backend, "postgres")("postgres only: three messages — the lock with BEGIN, the version write with the audit lane's head, the entry and event with COMMIT", async () => {
    const { admin } = vault();
    expect((await admin.put("/v1/secrets/trips/counted", { data: { v: "1" } })).status).toBe(201);
    const { sent, stop } = recordPgMessages();
    try {
      expect((await admin.put("/v1/secrets/trips/counted", { data: { v: "2" } })).status).toBe(200);
    } finally {
      stop();
    }
    // Every message of the PUT's transaction names the path; nothing else this node sends does.
    const own = sent.filter((text) => text.includes("'trips/counted'"));
    expect(own).toHaveLength(3);
    expect(own[0]).toMatch(/^BEGIN;/);
    // The version row (its ciphertext as hex) goes ahead of the lane's lock, in one message.
    const ciphertextAt = own[1].indexOf("E'\\\\x");
    const laneAt = own[1].indexOf("'tenant:");
    expect(ciphertextAt).toBeGreaterThan(-1);
    expect(laneAt).toBeGreaterThan(ciphertextAt);
    expect(own[2]).toMatch(/COMMIT$/);
  });
});
