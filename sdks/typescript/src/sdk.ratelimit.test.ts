import { expect, it } from "vitest";
import { describeEachBackend } from "../../../src/testing/backends.js";
import { useVault } from "../../../src/testing/harness.js";
import { RateLimitError, ScaiVaultClient } from "./index.js";

describeEachBackend("TypeScript SDK: the real server's rate limit (RATE_LIMIT_READ=60)", (backend) => {
  const vault = useVault(backend, { env: { RATE_LIMIT_READ: "60" } });

  it("surfaces 429 with retryAfter when retries are off, and waits it out when they are on", async () => {
    await vault().admin.put("/v1/secrets/ts/limited", { data: { v: "1" } });
    const impatient = new ScaiVaultClient({ baseUrl: vault().baseUrl, token: vault().adminToken, retries: { maxAttempts: 1 } });
    let limited: RateLimitError | null = null;
    for (let i = 0; i < 120 && !limited; i++) {
      await impatient.secrets.read("ts/limited").catch((e: unknown) => {
        if (e instanceof RateLimitError) limited = e;
        else throw e;
      });
    }
    expect(limited).not.toBeNull();
    expect(limited!).toMatchObject({ code: "rate_limited", status: 429 });
    expect(limited!.retryAfter).toBeGreaterThanOrEqual(1);
    const patient = new ScaiVaultClient({ baseUrl: vault().baseUrl, token: vault().adminToken, retries: { maxAttempts: 5 } });
    expect((await patient.secrets.read("ts/limited")).data).toEqual({ v: "1" });
  });
});
