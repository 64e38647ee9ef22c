import { describe, expect, it } from "vitest";
import { classifyAddress, isBlockedAddress, resolveTarget } from "./ssrf.js";

// Global unicast: deliverable.
const PUBLIC = ["8.8.8.8", "93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e",
  // The IPv6 forms a resolver gives for an IPv4 host (mapped, NAT64), where the IPv4 inside is public.
  "::ffff:8.8.8.8", "64:ff9b::8.8.8.8"];

// Every special-purpose range, v4 and v6, with the range name expected.
const SPECIAL: ReadonlyArray<readonly [string, string]> = [
  ["0.0.0.0", "unspecified"], ["0.1.2.3", "unspecified"], ["255.255.255.255", "broadcast"], ["224.0.0.1", "multicast"], ["239.255.255.250", "multicast"],
  ["169.254.169.254", "linkLocal"], ["127.0.0.1", "loopback"], ["127.9.9.9", "loopback"], ["100.64.0.1", "carrierGradeNat"],
  ["10.1.2.3", "private"], ["172.16.0.1", "private"], ["172.31.255.254", "private"], ["192.168.1.1", "private"],
  ["192.0.0.8", "reserved"], ["192.0.2.1", "reserved"], ["198.18.0.1", "reserved"], ["198.51.100.7", "reserved"], ["203.0.113.9", "reserved"], ["240.0.0.1", "reserved"],
  ["192.88.99.1", "reserved"], ["192.175.48.1", "as112"], ["192.52.193.1", "amt"],
  ["::", "unspecified"], ["::1", "loopback"], ["fe80::1", "linkLocal"], ["ff02::1", "multicast"], ["fc00::1", "uniqueLocal"], ["fd12:3456::1", "uniqueLocal"],
  ["fec0::1", "deprecatedSiteLocal"], ["100::1", "discard"], ["2001:2::1", "benchmarking"], ["2001:db8::1", "reserved"], ["2001:10::1", "deprecatedOrchid"],
  ["2001:20::1", "orchid2"], ["5f00::1", "segmentRouting"], ["3fff::1", "reserved"], ["64:ff9b:1::1", "rfc6052"], ["::1.2.3.4", "ipv4Compatible"],
  // IPv4-mapped/translated forms: the IPv4 inside decides.
  ["::ffff:127.0.0.1", "loopback"], ["::ffff:10.0.0.1", "private"], ["::ffff:169.254.169.254", "linkLocal"],
  ["64:ff9b::127.0.0.1", "loopback"], ["64:ff9b::a9fe:a9fe", "linkLocal"], ["64:ff9b::10.0.0.1", "private"],
  // SIIT, 6to4 and Teredo: refused whatever they carry, a public IPv4 address too.
  ["::ffff:0:8.8.8.8", "rfc6145"], ["::ffff:0:127.0.0.1", "rfc6145"], ["::ffff:0:192.168.0.1", "rfc6145"],
  ["2002:0808:0808::1", "6to4"], ["2002:7f00:0001::1", "6to4"], ["2002:0a00:0001::", "6to4"], ["2002:a9fe:a9fe::1", "6to4"],
  // Teredo: server 8.8.8.8 and client 8.8.8.8 (stored inverted: f7f7:f7f7), then a client of 127.0.0.1.
  ["2001:0:0808:0808:0:0:f7f7:f7f7", "teredo"], ["2001:0:0808:0808::80ff:fffe", "teredo"], ["2001:0:0a00:0001::f7f7:f7f7", "teredo"],
];

describe("SSRF address classification", () => {
  it.each(PUBLIC)("lets the public address %s through", (address) => {
    expect(classifyAddress(address)).toMatchObject({ blocked: false });
    expect(isBlockedAddress(address)).toBe(false);
  });

  it.each(SPECIAL)("refuses %s (%s)", (address, range) => {
    expect(classifyAddress(address)).toMatchObject({ blocked: true, range });
  });

  it("refuses what is not an address at all", () => {
    for (const text of ["", "example.com", "1.2.3", "fe80::1%eth0", "::ffff:999.1.1.1"]) expect(isBlockedAddress(text)).toBe(true);
  });

  it("resolves a public IPv4 literal to itself instead of refusing it as private", async () => {
    await expect(resolveTarget("93.184.216.34", false)).resolves.toEqual({ address: "93.184.216.34", family: 4 });
    await expect(resolveTarget("[2606:4700:4700::1111]", false)).resolves.toEqual({ address: "2606:4700:4700::1111", family: 6 });
    await expect(resolveTarget("127.0.0.1", false)).rejects.toThrow(/private, loopback/);
    await expect(resolveTarget("[64:ff9b::7f00:1]", false)).rejects.toThrow(/private, loopback/);
  });
});
