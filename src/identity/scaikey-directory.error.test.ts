import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DirectoryError } from "./directory-client.js";
import { ScaiKeyDirectory } from "./scaikey-directory.js";
import { ScaiKeyStandIn } from "./testing/scaikey-standin.js";
import { baseFixture, CLIENT } from "./testing/use-standin.js";

// The adapter touches no database: one run covers both backends.
describe("ScaiKey directory adapter: token reuse, retries, timeouts", () => {
  let standIn: ScaiKeyStandIn;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "standin-"));
    standIn = await ScaiKeyStandIn.start(join(dir, "d.json"), baseFixture());
  });
  afterAll(async () => {
    await standIn.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reuses one client-credentials token across calls and fetches a new one once on a 401", async () => {
    const client = new ScaiKeyDirectory({ url: standIn.url, ...{ clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret } });
    const before = standIn.tokenRequests;
    expect((await client.partners()).map((p) => p.id)).toEqual(["ptn_default"]);
    const snapshot = await client.tenantSnapshot("tnt_default");
    expect(snapshot.users.map((u) => u.id)).toEqual(["usr_alice", "usr_bob"]);
    expect(snapshot.members.get("grp_platform")).toEqual([{ member_type: "group", member_id: "grp_sre", added_at: expect.any(String) }]);
    expect(standIn.tokenRequests - before).toBe(1);
    standIn.revokeIssuedTokens();
    expect((await client.tenants("ptn_default")).map((t) => t.id)).toEqual(["tnt_default", "tnt_two"]);
    expect(standIn.tokenRequests - before).toBe(2);
  });

  it("retries 5xx twice, then gives up with a DirectoryError; wrong credentials are not retried", async () => {
    const client = new ScaiKeyDirectory({ url: standIn.url, clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret });
    standIn.failNext = 2;
    expect((await client.partners()).length).toBe(1);
    standIn.failNext = 3;
    await expect(client.partners()).rejects.toBeInstanceOf(DirectoryError);
    standIn.failNext = 0;
    const wrong = new ScaiKeyDirectory({ url: standIn.url, clientId: CLIENT.client_id, clientSecret: "not-the-secret" });
    await expect(wrong.partners()).rejects.toMatchObject({ status: 401 });
  });

  it("a directory that never answers times out per call (retried, then DirectoryError)", async () => {
    let hits = 0;
    const silent = createServer(() => {
      hits++;
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const client = new ScaiKeyDirectory({ url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, clientId: "x", clientSecret: "y", timeoutMs: 200 });
    await expect(client.partners()).rejects.toBeInstanceOf(DirectoryError);
    // Discovery once, then the token endpoint three times (first try and two retries).
    expect(hits).toBe(4);
    silent.closeAllConnections();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });
});
