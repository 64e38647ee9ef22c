import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";

describeEachBackend("secrets: PATCH …/metadata refuses dangling and other tenants' policy links exactly as PUT does (issue 13)", (backend) => {
  const vault = useVault(backend);
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    const { admin } = vault();
    expect((await admin.post("/v1/identity/tenants", { id: "tnt_links_other", name: "Other" })).status).toBe(201);
    const foreignRotation = await admin.post("/v1/t/tnt_links_other/rotation/policies", { name: "theirs", interval: "30d" });
    const foreignRecipe = await admin.post("/v1/t/tnt_links_other/secret-policies", { name: "theirs", policy_type: "api_key", fields: [{ name: "api_key", generator: "hex" }] });
    const ownRotation = await admin.post("/v1/rotation/policies", { name: "ours", interval: "30d" });
    const ownRecipe = await admin.post("/v1/secret-policies", { name: "ours", policy_type: "api_key", fields: [{ name: "api_key", generator: "hex" }] });
    expect([foreignRotation.status, foreignRecipe.status, ownRotation.status, ownRecipe.status]).toEqual([201, 201, 201, 201]);
    Object.assign(ids, { foreignRotation: foreignRotation.body.id, foreignRecipe: foreignRecipe.body.id, ownRotation: ownRotation.body.id, ownRecipe: ownRecipe.body.id });
    expect((await admin.put("/v1/secrets/links/app", { data: { k: "v" } })).status).toBe(201);
  });

  it("answers the same code for PUT and PATCH, and PATCH leaves the secret unchanged", async () => {
    const { admin } = vault();
    const cases: Array<[string, Record<string, string>]> = [
      ["dangling rotation policy", { rotation_policy_id: "rot_doesnotexist" }],
      ["another tenant's rotation policy", { rotation_policy_id: ids.foreignRotation }],
      ["dangling secret policy", { secret_policy_id: "sp_doesnotexist" }],
      ["another tenant's secret policy", { secret_policy_id: ids.foreignRecipe }],
    ];
    for (const [what, options] of cases) {
      const put = await admin.put("/v1/secrets/links/app", { data: { k: "v" }, options });
      const patch = await admin.patch("/v1/secrets/links/app/metadata", { options });
      expect({ what, put: [put.status, put.body.error?.code], patch: [patch.status, patch.body.error?.code] }).toEqual({ what, put: [404, expect.stringMatching(/_not_found$/)], patch: [put.status, put.body.error?.code] });
    }
    const after = await admin.get("/v1/secrets/links/app/metadata");
    expect(after.body).toMatchObject({ rotation_policy_id: null, secret_policy_id: null });
    const linked = await admin.patch("/v1/secrets/links/app/metadata", { options: { rotation_policy_id: ids.ownRotation, secret_policy_id: ids.ownRecipe } });
    expect(linked.status).toBe(200);
    expect(linked.body).toMatchObject({ rotation_policy_id: ids.ownRotation, secret_policy_id: ids.ownRecipe });
    const unlinked = await admin.patch("/v1/secrets/links/app/metadata", { options: { rotation_policy_id: null, secret_policy_id: null } });
    expect(unlinked.body).toMatchObject({ rotation_policy_id: null, secret_policy_id: null });
  });
});
