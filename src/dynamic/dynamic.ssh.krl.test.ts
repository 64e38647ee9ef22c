import { generateKeyPairSync } from "node:crypto";
import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useSecondNode, useVault, type ApiClient } from "../testing/harness.js";
import { statementsDuring } from "../testing/plans.js";
import { until } from "./testing.js";

/** The serials a KRL (PROTOCOL.krl) revokes, read section by section. */
function krlSerials(krl: Buffer): string[] {
  let at = 8 + 4 + 8 + 8 + 8; // magic, format version, krl version, generated date, flags
  const string = (from: Buffer): Buffer => {
    const length = from.readUInt32BE(at);
    const value = from.subarray(at + 4, at + 4 + length);
    at += 4 + length;
    return value;
  };
  string(krl); // reserved
  string(krl); // comment
  const serials: string[] = [];
  while (at < krl.length) {
    const type = krl[at++];
    const section = string(krl);
    if (type !== 1) continue;
    const outer = at;
    at = 0;
    string(section); // the CA key
    string(section); // reserved
    while (at < section.length) {
      const subtype = section[at++];
      const list = string(section);
      if (subtype === 0x20) for (let i = 0; i < list.length; i += 8) serials.push(list.readBigUInt64BE(i).toString());
    }
    at = outer;
  }
  return serials;
}

function opensshKey(): string {
  const raw = generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" }).subarray(12);
  const type = Buffer.from("ssh-ed25519");
  const length = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([length(type), length(raw)]).toString("base64")}`;
}

/**
 * SSH hosts fetch the KRL on a timer, without a token. A node serves the KRL it built while no
 * lease of the engine has ended since: every revocation or expiry, on any node, shows on the next
 * fetch from every node, and an unchanged KRL costs no read of its serials.
 */
describeEachBackend("dynamic: the SSH KRL a node serves is never older than the last ended certificate", (backend) => {
  const vault = useVault(backend);
  const secondNode = useSecondNode(vault);
  let engineId = "";

  async function krlFrom(client: ApiClient): Promise<string[]> {
    const response = await fetch(`${client.baseUrl}/v1/dynamic/engines/${engineId}/ssh/krl`);
    expect(response.status).toBe(200);
    return krlSerials(Buffer.from(await response.arrayBuffer()));
  }
  async function sign(ttl = "10m") {
    const lease = await vault().admin.post("/v1/dynamic/engines/krl/creds/ops", { public_key: opensshKey(), ttl });
    expect(lease.status, lease.text).toBe(201);
    return { id: lease.body.lease_id as string, serial: lease.body.data.serial_number as string };
  }

  it("a certificate revoked through one node is in the other node's very next KRL", async () => {
    const { admin } = vault();
    const engine = await admin.post("/v1/dynamic/engines", { name: "krl", type: "ssh", config: {}, default_ttl: "30m", max_ttl: "1h" });
    expect(engine.status, engine.text).toBe(201);
    engineId = engine.body.id;
    expect((await admin.post("/v1/dynamic/engines/krl/roles", { name: "ops", allowed_users: ["deploy"] })).status).toBe(201);
    const [first, second] = [await sign(), await sign()];
    expect(await krlFrom(secondNode())).toEqual([]);
    expect((await admin.post(`/v1/dynamic/leases/${first.id}/revoke`)).body.state).toBe("revoked");
    expect(await krlFrom(secondNode())).toEqual([first.serial]);
    expect(await krlFrom(secondNode())).toEqual([first.serial]);
    expect((await admin.post(`/v1/dynamic/leases/${second.id}/revoke`)).body.state).toBe("revoked");
    expect((await krlFrom(secondNode())).sort()).toEqual([first.serial, second.serial].sort());
    expect((await krlFrom(vault().admin)).sort()).toEqual([first.serial, second.serial].sort());
  });

  it("a certificate whose lease expires is in every node's next KRL", async () => {
    const before = await krlFrom(secondNode());
    const short = await sign("1s");
    expect(await krlFrom(secondNode())).toEqual(before);
    await until(() => vault().admin.get(`/v1/dynamic/leases/${short.id}`), (r) => r.body.state === "expired");
    expect(await krlFrom(secondNode())).toContain(short.serial);
  });

  it("an unchanged KRL is served again without reading its serials", async () => {
    const served = await krlFrom(secondNode());
    expect(served.length).toBeGreaterThan(0);
    const again = await statementsDuring(secondNode.vault().db, () => krlFrom(secondNode()));
    expect(again.value).toEqual(served);
    expect(again.statements.filter((s) => /dynamic_leases/.test(s.sql))).toEqual([]);
  });
});
