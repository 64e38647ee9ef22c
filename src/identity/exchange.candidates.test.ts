import { afterAll, afterEach, beforeAll, expect, it, vi } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { SubjectVerifier } from "./exchange-verify.js";
import { LocalIssuer } from "./testing/local-issuer.js";

const GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";

/**
 * An exchange tries the trusts that accept its token's issuer and audience in turn; those with the
 * same keys and algorithms answer alike, so each such group is verified once. A forged token was
 * verified against every one: 100 trusts of one issuer, 19–38 ms per request (docs/benchmarks.md round 37).
 */
describeEachBackend("token exchange: candidate trusts verified once per key set", (backend) => {
  const vault = useVault(backend);
  let issuer: LocalIssuer;
  let other: LocalIssuer;
  beforeAll(async () => {
    issuer = await LocalIssuer.start();
    other = await LocalIssuer.start();
    const { admin } = vault();
    // Five trusts with the issuer's keys, then one with other keys for the same issuer (a key rotation's new set).
    for (let i = 0; i < 5; i++) {
      const created = await admin.post("/v1/auth/trusts", { name: `same-${i}`, issuer: issuer.url, audiences: ["cand-aud"], jwks: issuer.jwks, rules: [{ conditions: { team: `same-${i}` }, identity_id: "sa:cand", scopes: ["secrets:read"] }] });
      expect(created.status, created.text).toBe(201);
    }
    const rotated = await admin.post("/v1/auth/trusts", { name: "rotated", issuer: issuer.url, audiences: ["cand-aud"], jwks: other.jwks, rules: [{ conditions: { team: "rotated" }, identity_id: "sa:cand", scopes: ["secrets:read"] }] });
    expect(rotated.status, rotated.text).toBe(201);
  });
  afterAll(async () => {
    await issuer?.close();
    await other?.close();
  });
  afterEach(() => vi.restoreAllMocks());

  it("verifies a forged token once per key set, and still finds the trust whose keys do verify", async () => {
    const { anonymous } = vault();
    const verify = vi.spyOn(SubjectVerifier.prototype, "verify");
    const forged = await issuer.sign({ team: "same-0" }, { audience: "cand-aud", expiresIn: "5m", rogue: true });
    const refused = await anonymous.post("/v1/auth/exchange", { grant_type: GRANT, subject_token: forged });
    expect(refused.body.error).toMatchObject({ code: "token_invalid" });
    expect(verify).toHaveBeenCalledTimes(2);

    verify.mockClear();
    // Signed with the rotated set's key: the five of the first set fail together, the sixth accepts.
    const good = await other.sign({ team: "rotated" }, { issuer: issuer.url, audience: "cand-aud", expiresIn: "5m" });
    const exchanged = await anonymous.post("/v1/auth/exchange", { grant_type: GRANT, subject_token: good });
    expect(exchanged.status, exchanged.text).toBe(200);
    expect(exchanged.body.identity_id).toBe("sa:cand");
    expect(verify).toHaveBeenCalledTimes(2);

    verify.mockClear();
    const first = await issuer.sign({ team: "same-0" }, { audience: "cand-aud", expiresIn: "5m" });
    const accepted = await anonymous.post("/v1/auth/exchange", { grant_type: GRANT, subject_token: first });
    expect(accepted.status, accepted.text).toBe(200);
    expect(verify).toHaveBeenCalledTimes(1);
  });
});
