import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import bcrypt from "bcryptjs";
import { describe, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient } from "../testing/harness.js";
import type { TenantGeneration } from "../crypto/expensive-work.js";
import { checkFields, generate } from "./generators/index.js";
import { PreparedValues } from "./prepared-values.js";
import { waitFor } from "./testing.js";

/** Generators that wait on the thread pool or the event loop: a transaction must not wait for them. */
const KEYS = [
  { name: "tls", generator: "rsa_keypair" },
  { name: "ssh", generator: "ssh_keypair" },
  { name: "db", generator: "bcrypt_hash", config: { rounds: 4, length: 20 } },
];

function expectWorkingKeys(data: Record<string, string>): void {
  const signature = sign("sha256", Buffer.from("probe"), createPrivateKey(data.tls));
  expect(verify("sha256", Buffer.from("probe"), createPublicKey(data.tls_public), signature)).toBe(true);
  expect(data.ssh).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
  expect(bcrypt.compareSync(data.db, data.db_hash)).toBe(true);
}

async function keyedPolicy(admin: ApiClient, name: string, interval: string): Promise<string> {
  const recipe = await admin.post("/v1/secret-policies", { name, policy_type: "custom", fields: KEYS });
  expect(recipe.status, recipe.text).toBe(201);
  const policy = await admin.post("/v1/rotation/policies", { name, interval, auto_generate: true, secret_policy_id: recipe.body.id });
  expect(policy.status, policy.text).toBe(201);
  return policy.body.id as string;
}

describeEachBackend("rotation: key pairs and hashes are generated before the rotation's transaction", (backend) => {
  const vault = useVault(backend);

  it("a secret rotated by hand, and every secret of a policy, get working keys of their own", async () => {
    const { admin } = vault();
    const policyId = await keyedPolicy(admin, "keys-by-hand", "30d");
    for (const path of ["keys/a", "keys/b"]) {
      await admin.put(`/v1/secrets/${path}`, { data: { owner: "team" } });
      expect((await admin.post(`/v1/rotation/policies/${policyId}/secrets`, { secret_path: path })).status).toBe(201);
    }
    const one = await admin.post("/v1/secrets/keys/a/rotate");
    expect([one.status, one.body.action]).toEqual([202, "rotated"]);
    const all = await admin.post(`/v1/rotation/policies/${policyId}/rotate`, {});
    expect(all.status, all.text).toBe(200);
    const [a, b] = await Promise.all(["keys/a", "keys/b"].map(async (path) => (await admin.get(`/v1/secrets/${path}`)).body));
    expect([a.version, b.version]).toEqual([3, 2]);
    for (const secret of [a, b]) {
      expect(secret.data.owner).toBe("team");
      expectWorkingKeys(secret.data);
    }
    expect(a.data.tls).not.toBe(b.data.tls);
  });

  it("a scheduled rotation generates its keys too", async () => {
    const { admin } = vault();
    const policyId = await keyedPolicy(admin, "keys-on-schedule", "1s");
    await admin.put("/v1/secrets/keys/scheduled", { data: { owner: "team" } });
    expect((await admin.post(`/v1/rotation/policies/${policyId}/secrets`, { secret_path: "keys/scheduled" })).status).toBe(201);
    const rotated = await waitFor("a scheduled rotation", async () => {
      const read = await admin.get("/v1/secrets/keys/scheduled");
      return read.body.version >= 2 && read.body;
    });
    await admin.post(`/v1/rotation/policies/${policyId}/disable`);
    expectWorkingKeys(rotated.data);
  });
});

describe("PreparedValues", () => {
  const direct: TenantGeneration = { inTurn: (work) => work(), bcrypt: (password, salt) => bcrypt.hash(password, salt) };

  it("hands each set out once, for its own recipe only; a recipe that waits on nothing is generated in place", async () => {
    const keys = { key: "sp_keys\u0000v1", fields: checkFields([{ name: "ec", generator: "ec_keypair" }]) };
    const prepared = await PreparedValues.forRecipes([keys, keys], direct);
    const first = await prepared.take(keys, Date.now());
    const second = await prepared.take(keys, Date.now());
    expect(first?.ec).toMatch(/BEGIN PRIVATE KEY/);
    expect(second?.ec).not.toBe(first?.ec);
    expect(await prepared.take(keys, Date.now())).toBeUndefined();
    // The recipe changed after the values were made: none of them is used.
    expect(await (await PreparedValues.forRecipes([keys], direct)).take({ ...keys, key: "sp_keys\u0000v2" }, Date.now())).toBeUndefined();
    const cheap = { key: "sp_cheap\u0000v1", fields: checkFields([{ name: "password", generator: "random" }]) };
    expect((await prepared.take(cheap, Date.now()))?.password).toHaveLength(32);
  });
});

describe("generate: the expensive generators take the tenant's turn", () => {
  it("RSA key pairs (PEM and SSH) and bcrypt hashes go through the tenant's generation; EC and ed25519 keys do not", async () => {
    const calls: string[] = [];
    const counted: TenantGeneration = {
      inTurn: (work) => { calls.push("turn"); return work(); },
      bcrypt: (password, salt) => { calls.push("bcrypt"); return bcrypt.hash(password, salt); },
    };
    const fields = checkFields([
      { name: "rsa", generator: "rsa_keypair" },
      { name: "ssh_rsa", generator: "ssh_keypair", config: { key_type: "rsa", bits: 2048 } },
      { name: "ssh", generator: "ssh_keypair" },
      { name: "ec", generator: "ec_keypair" },
      { name: "db", generator: "bcrypt_hash", config: { rounds: 4 } },
    ]);
    const values = await generate(fields, counted);
    expect(calls).toEqual(["turn", "turn", "bcrypt"]);
    expect(bcrypt.compareSync(values.db, values.db_hash)).toBe(true);
  });
});
