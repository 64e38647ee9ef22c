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

  onlyOn(backend, "postgres")("postgres only: two messages — the secret's lock with BEGIN and the audit lane's head, then the version, entry and event with COMMIT", async () => {
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
    expect(own).toHaveLength(2);
    expect(own[0]).toMatch(/^BEGIN;/);
    // The lane's lock travels after the secret's row lock, in the same message: a lane is taken
    // only by a write that already holds its secret (the order every write locks in).
    // (Statements go as text or as EXECUTE of one prepared on the connection: the lane ids tell.)
    const rowLockAt = own[0].indexOf("'trips/counted'");
    const laneAt = own[0].indexOf("'tenant:");
    expect(rowLockAt).toBeGreaterThan(-1);
    expect(laneAt).toBeGreaterThan(rowLockAt);
    // The version row (its ciphertext as hex), the entry with the head's advance, and COMMIT.
    const ciphertextAt = own[1].indexOf("E'\\\\x");
    expect(ciphertextAt).toBeGreaterThan(-1);
    expect(own[1].indexOf("'tenant:")).toBeGreaterThan(ciphertextAt);
    expect(own[1]).toMatch(/COMMIT$/);
    // The entry extends the lane the first message locked: its chain id and seq follow that head.
    const entry = await vault().vault.db.get<{ chain_id: string; seq: number | string; prev_hash: string }>(
      "SELECT chain_id, seq, prev_hash FROM audit_log WHERE secret_path = ? AND action = 'write' ORDER BY timestamp DESC, timestamp_us DESC LIMIT 1",
      ["trips/counted"],
    );
    const head = await vault().vault.db.get<{ seq: number | string }>("SELECT seq FROM audit_chain_heads WHERE chain_id = ?", [entry?.chain_id ?? ""]);
    expect(Number(head?.seq)).toBe(Number(entry?.seq));
  });
});
