import { describe, expect, it } from "vitest";
import { SecretHeadCache, type SecretHead } from "./head-cache.js";

function head(path: string, bytes: number): SecretHead {
  const secret = { tenant_id: "t", path, metadata: "{}", current_version: 1 } as SecretHead["secret"];
  const version = { tenant_id: "t", path, version: 1, ciphertext: Buffer.alloc(bytes), wrapped_key: Buffer.alloc(60) } as SecretHead["version"];
  return { secret, version };
}

describe("secret head cache", () => {
  it("serves an entry only under the epoch it was stored with", () => {
    const cache = new SecretHeadCache();
    const stored = head("a", 100);
    cache.set("t", "a", null, 7, stored);
    expect(cache.get("t", "a", null, 7)).toBe(stored);
    expect(cache.get("t", "a", null, 8)).toBeUndefined();
    expect(cache.get("t", "a", 1, 7)).toBeUndefined();
    expect(cache.get("other", "a", null, 7)).toBeUndefined();
    // Storing under a newer epoch drops the tenant's older entries.
    cache.set("t", "b", null, 8, head("b", 100));
    expect(cache.get("t", "a", null, 7)).toBeUndefined();
  });

  it("stays within its byte bound, and does not hold a single entry too large for it", () => {
    const cache = new SecretHeadCache(1024 * 1024);
    for (let i = 0; i < 200; i++) cache.set("t", `p${i}`, null, 1, head(`p${i}`, 16 * 1024));
    const held = Array.from({ length: 200 }, (_, i) => cache.get("t", `p${i}`, null, 1)).filter(Boolean).length;
    expect(held).toBeGreaterThan(0);
    expect(held * 16 * 1024).toBeLessThanOrEqual(1024 * 1024);
    cache.set("t", "huge", null, 1, head("huge", 200 * 1024));
    expect(cache.get("t", "huge", null, 1)).toBeUndefined();
  });
});
