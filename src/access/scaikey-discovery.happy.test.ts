import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { AUDIENCE, FakeScaiKey } from "./testing/fake-scaikey.js";

describeEachBackend("access: ScaiKey discovery from SCAIKEY_URL and extra SCAIKEY_ISSUERS", (backend) => {
  const env: Record<string, string> = {};
  let scaikey: FakeScaiKey;
  beforeAll(async () => {
    scaikey = await FakeScaiKey.start();
    Object.assign(env, { SCAIKEY_URL: scaikey.base, SCAIKEY_AUDIENCE: AUDIENCE, SCAIKEY_ISSUERS: "https://scaikey.test/tenants/other", SCAIKEY_JWKS_COOLDOWN_SECONDS: "0" });
  });
  afterAll(async () => scaikey?.close());
  const vault = useVault(backend, { env });

  it("finds the JWKS through the discovery document and accepts SCAIKEY_URL and listed issuers only", async () => {
    const { anonymous } = vault();
    const claims = { sub: "user:disc", tenant_id: "tnt_default", scope: "secrets:read" };
    const own = await anonymous.withToken(await scaikey.sign(claims, { issuer: scaikey.base })).get("/v1/auth/whoami");
    expect(own.status).toBe(200);
    expect(own.body.identity_id).toBe("user:disc");
    expect(scaikey.fetches).toBeGreaterThanOrEqual(1);
    const listed = await anonymous.withToken(await scaikey.sign(claims, { issuer: "https://scaikey.test/tenants/other" })).get("/v1/auth/whoami");
    expect(listed.status).toBe(200);
    const unlisted = await anonymous.withToken(await scaikey.sign(claims, { issuer: "https://scaikey.test/tenants/acme" })).get("/v1/auth/whoami");
    expect(unlisted.status).toBe(401);
    expect(unlisted.body.error.code).toBe("token_invalid");
  });

  it("refetches the JWKS when a token names an unknown kid, so a rotated-in key works at once", async () => {
    const { anonymous } = vault();
    const claims = { sub: "user:rotation", tenant_id: "tnt_default", scope: "secrets:read" };
    expect((await anonymous.withToken(await scaikey.sign(claims, { issuer: scaikey.base })).get("/v1/auth/whoami")).status).toBe(200);
    const beforeRotation = await anonymous.withToken(await scaikey.sign(claims, { kid: "rsa-rogue", issuer: scaikey.base })).get("/v1/auth/whoami");
    expect(beforeRotation.status).toBe(401);
    const fetches = scaikey.fetches;
    scaikey.published = ["rsa-1", "ec-1", "rsa-rogue"];
    const afterRotation = await anonymous.withToken(await scaikey.sign(claims, { kid: "rsa-rogue", issuer: scaikey.base })).get("/v1/auth/whoami");
    expect(afterRotation.status).toBe(200);
    expect(scaikey.fetches).toBe(fetches + 1);
  });
});
