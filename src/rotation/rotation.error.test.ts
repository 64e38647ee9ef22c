import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";

describeEachBackend("rotation and secret policies: bad input", (backend) => {
  const vault = useVault(backend);

  it("answers invalid_duration for bad interval, grace_period and warn_before", async () => {
    const { admin } = vault();
    for (const body of [
      { name: "a", interval: "90 days" },
      { name: "b", interval: "90d", grace_period: "" },
      { name: "c", interval: "90d", warn_before: "7d,soon" },
      { name: "d", interval: "500ms" },
    ]) {
      const res = await admin.post("/v1/rotation/policies", body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("invalid_duration");
    }
    const policy = (await admin.post("/v1/rotation/policies", { name: "ok", interval: "1d" })).body;
    const patch = await admin.patch(`/v1/rotation/policies/${policy.id}`, { interval: "1x" });
    expect(patch.body.error.code).toBe("invalid_duration");
    expect((await admin.get(`/v1/rotation/policies/${policy.id}`)).body.interval).toBe("1d");
  });

  it("answers validation_error for missing, mistyped and unknown fields", async () => {
    const { admin } = vault();
    const missing = await admin.post("/v1/rotation/policies", { name: "x" });
    expect(missing.status).toBe(422);
    expect(missing.body.error.code).toBe("validation_error");
    expect((await admin.post("/v1/rotation/policies", { name: "x", interval: "1d", auto_generate: "yes" })).status).toBe(422);
    expect((await admin.post("/v1/rotation/policies", { name: "x", interval: "1d", intervall: "2d" })).status).toBe(422);
    expect((await admin.post("/v1/secret-policies", { name: "x", fields: [] })).status).toBe(422);
    expect((await admin.post("/v1/secret-policies", { name: "x", policy_type: "pin", fields: [{ name: "a", generator: "hex" }] })).status).toBe(422);
    const badRotate = await admin.post("/v1/rotation/policies/rot_missing/rotate", { secret_paths: "app/x" });
    expect(badRotate.status).toBe(422);
    expect((await admin.post("/v1/rotation/policies/rot_missing/rotate", { secret_paths: ["app/x"] })).body.error.code).toBe("rotation_policy_not_found");
    expect((await admin.request("POST", "/v1/rotation/policies", { raw: "[1,2]", headers: { "content-type": "application/json" } })).body.error.code).toBe("invalid_request");
  });

  it("answers invalid_config for generators and configs that cannot work", async () => {
    const { admin } = vault();
    const cases: [unknown, string][] = [
      [{ name: "p", generator: "magic" }, "unknown generator"],
      [{ name: "p", generator: "random", config: { charset: "numeric", require_upper: true } }, "cannot satisfy"],
      [{ name: "p", generator: "random", config: { length: 2, require_upper: true, require_lower: true, require_digit: true } }, "shorter"],
      [{ name: "p", generator: "random", config: { length: 0 } }, "invalid value"],
      [{ name: "p", generator: "random", config: { lenght: 10 } }, "no config key"],
      [{ name: "p", generator: "template", config: { template: "x-{{secret}}" } }, "unknown placeholder"],
      [{ name: "p", generator: "static" }, "needs config.value"],
      [{ name: "p", generator: "rsa_keypair", config: { bits: 1024 } }, "invalid value"],
      [{ name: "p", generator: "ssh_keypair", config: { key_type: "ed25519", bits: 2048 } }, "rsa only"],
      [{ name: "p", generator: "bcrypt_hash", config: { rounds: 20 } }, "invalid value"],
    ];
    for (const [field, problem] of cases) {
      const res = await admin.post("/v1/secret-policies", { name: "bad", fields: [field] });
      expect(res.status, JSON.stringify(field)).toBe(400);
      expect(res.body.error.code).toBe("invalid_config");
      expect(res.body.error.message).toContain(problem);
    }
    const clash = await admin.post("/v1/secret-policies", { name: "bad", fields: [{ name: "key", generator: "ec_keypair" }, { name: "key_public", generator: "hex" }] });
    expect(clash.body.error).toMatchObject({ code: "invalid_config", details: { field: "key_public" } });
    expect((await admin.get("/v1/secret-policies")).body.data).toEqual([]);
  });

  it("names unknown ids with their own codes and refuses duplicate names", async () => {
    const { admin } = vault();
    expect((await admin.post("/v1/rotation/policies", { name: "r", interval: "1d", secret_policy_id: "sp_nope" })).body.error.code).toBe("secret_policy_not_found");
    expect((await admin.get("/v1/rotation/policies/rot_nope")).body.error.code).toBe("rotation_policy_not_found");
    expect((await admin.post("/v1/rotation/policies/rot_nope/secrets", { secret_path: "a/b" })).body.error.code).toBe("rotation_policy_not_found");
    expect((await admin.post("/v1/secret-policies/sp_nope/preview")).body.error.code).toBe("secret_policy_not_found");

    const first = await admin.post("/v1/rotation/policies", { name: "same", interval: "1d" });
    const second = await admin.post("/v1/rotation/policies", { name: "same", interval: "2d" });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe("already_exists");
    const spFields = [{ name: "k", generator: "hex" }];
    await admin.post("/v1/secret-policies", { name: "same", fields: spFields });
    expect((await admin.post("/v1/secret-policies", { name: "same", fields: spFields })).body.error.code).toBe("already_exists");

    // Assigning a missing secret, a bad path, or writing with an unknown policy id.
    expect((await admin.post(`/v1/rotation/policies/${first.body.id}/secrets`, { secret_path: "no/such" })).body.error.code).toBe("secret_not_found");
    expect((await admin.post(`/v1/rotation/policies/${first.body.id}/secrets`, { secret_path: "Bad Path" })).body.error.code).toBe("invalid_path");
    const put = await admin.put("/v1/secrets/app/linked", { data: { a: 1 }, options: { rotation_policy_id: "rot_nope" } });
    expect(put.status).toBe(404);
    expect(put.body.error.code).toBe("rotation_policy_not_found");
    expect((await admin.get("/v1/secrets/app/linked")).body.error.code).toBe("secret_not_found");
    expect((await admin.delete(`/v1/rotation/policies/${first.body.id}/secrets/app%2Flinked`)).body.error.code).toBe("secret_not_found");
  });

  it("answers no_rotation_policy for a secret without one, and 404 for a missing secret", async () => {
    const { admin } = vault();
    await admin.put("/v1/secrets/app/plain", { data: { a: 1 } });
    const res = await admin.post("/v1/secrets/app/plain/rotate");
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("no_rotation_policy");
    expect((await admin.post("/v1/secrets/app/absent/rotate")).body.error.code).toBe("secret_not_found");
    expect((await admin.post("/v1/secrets/Bad/rotate")).body.error.code).toBe("invalid_path");
    expect((await admin.get("/v1/rotation/due?within_hours=-1")).status).toBe(422);
    expect((await admin.get("/v1/rotation/policies?cursor=%%%")).body.error.code).toBe("invalid_cursor");
  });

  it("a manual auto-rotation whose recipe cannot run answers the failure's code and records it", async () => {
    const { admin, vault: v } = vault();
    const sp = (await admin.post("/v1/secret-policies", { name: "off", is_active: false, fields: [{ name: "password", generator: "hex" }] })).body;
    const policy = (await admin.post("/v1/rotation/policies", { name: "uses-off", interval: "30d", auto_generate: true, secret_policy_id: sp.id })).body;
    await admin.put("/v1/secrets/app/stuck", { data: { password: "p" }, options: { rotation_policy_id: policy.id } });
    const res = await admin.post("/v1/secrets/app/stuck/rotate");
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_config");
    const history = (await admin.get(`/v1/rotation/policies/${policy.id}/history`)).body.data;
    expect(history).toEqual([expect.objectContaining({ status: "failed", trigger: "manual", secret_path: "app/stuck", new_version: null })]);
    expect(res.body.error.details.history_id).toBe(history[0].id);
    const failed = await v.db.all<{ data: string }>("SELECT data FROM events WHERE event_type = 'rotation.failed' AND path = 'app/stuck'");
    expect(failed).toHaveLength(1);
    expect((await admin.get("/v1/secrets/app/stuck")).body.version).toBe(1);
  });
});
