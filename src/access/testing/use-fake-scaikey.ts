import { afterAll, beforeAll } from "vitest";
import { FakeScaiKey } from "./fake-scaikey.js";

/**
 * For a describe block: a FakeScaiKey started before its tests and closed after them. `env` is
 * filled with the fake's SCAIKEY_* settings when it starts: pass it to useVault (registered after
 * this call, so its beforeAll runs once the fake is up).
 */
export function useFakeScaiKey(): { env: Record<string, string>; scaikey: () => FakeScaiKey } {
  const env: Record<string, string> = {};
  let scaikey: FakeScaiKey;
  beforeAll(async () => {
    scaikey = await FakeScaiKey.start();
    Object.assign(env, scaikey.env());
  });
  afterAll(async () => scaikey?.close());
  return { env, scaikey: () => scaikey };
}
