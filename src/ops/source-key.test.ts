import fc from "fast-check";
import { isIPv4 } from "node:net";
import { describe, expect, it } from "vitest";
import { sourceKey } from "./flood.js";

describe("sourceKey: the address a source is limited and recorded by", () => {
  it("keeps IPv4 addresses as they are", () => {
    fc.assert(fc.property(fc.ipV4(), (ip) => {
      expect(sourceKey(ip)).toBe(ip);
    }));
  });

  it("unwraps IPv4-mapped IPv6 to its IPv4 address", () => {
    fc.assert(fc.property(fc.ipV4(), (ip) => {
      expect(sourceKey(`::ffff:${ip}`)).toBe(ip);
    }));
  });

  it("keys other IPv6 addresses by their /64, so one host cannot mint budgets per address", () => {
    expect(sourceKey("2001:db8:1:2:3:4:5:6")).toBe("2001:db8:1:2::/64");
    expect(sourceKey("2001:db8:1:2:ffff:ffff:ffff:ffff")).toBe(sourceKey("2001:db8:1:2::1"));
    // Any IPv6 spelling becomes a /64 key, or (IPv4-mapped) an IPv4 address; never itself.
    fc.assert(fc.property(fc.ipV6(), (ip) => {
      const key = sourceKey(ip);
      expect(key.endsWith("/64") || isIPv4(key)).toBe(true);
    }));
  });

  it("leaves text that is not an address alone", () => {
    expect(sourceKey("unknown")).toBe("unknown");
    expect(sourceKey("not:an:address")).toBe("not:an:address");
  });
});
