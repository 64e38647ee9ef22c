import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

/**
 * Which addresses a webhook may reach unless SCAIVAULT_WEBHOOK_ALLOW_PRIVATE=true: only global
 * unicast. The special-purpose ranges come from ipaddr.js's `range()` (a maintained table of the
 * IANA registries) rather than a hand-written list: a hand-written BlockList once held
 * `::ffff:0:0/96`, which Node's BlockList also applies to plain IPv4, and so refused every IPv4
 * target. The two IPv6 forms a resolver hands out for an IPv4 host, mapped (`::ffff:a.b.c.d`) and
 * NAT64 (`64:ff9b::a.b.c.d`, what DNS64 answers on IPv6-only networks), are unwrapped and the IPv4
 * address inside decides: 64:ff9b::127.0.0.1 is loopback. The transition mechanisms no webhook
 * needs (SIIT `::ffff:0:0:0/96`, 6to4 `2002::/16`, Teredo `2001::/32`) are refused whatever they
 * carry: default deny, and a Teredo client address is not even stored in the clear.
 */
export interface AddressClass {
  /** The ipaddr.js range name (`unicast`, `private`, `loopback`, …) of the address or what it wraps. */
  range: string;
  blocked: boolean;
  /** The IPv4 address found inside an IPv6 one, when there was one. */
  embedded?: string;
}

function ipv4FromWords(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

function classifyV4(address: ipaddr.IPv4): string {
  return address.range();
}

/** The IPv4 addresses an IPv6 address of a translation or tunnel range leads to. */
function embeddedV4(address: ipaddr.IPv6, range: string): ipaddr.IPv4[] | null {
  const p = address.parts;
  switch (range) {
    case "ipv4Mapped": // ::ffff:a.b.c.d
      return [ipv4FromWords(p[6], p[7])];
    case "rfc6052": // 64:ff9b::a.b.c.d (NAT64); 64:ff9b:1::/48 local-use prefixes embed it elsewhere
      return p[1] === 0xff9b && p[2] === 0 ? [ipv4FromWords(p[6], p[7])] : null;
    default:
      return null;
  }
}

const IPV4_COMPATIBLE = ipaddr.parseCIDR("::/96");

/**
 * ipaddr.js reads `::1.2.3.4` as `::ffff:1.2.3.4`; the kernel does not. A dotted tail is rewritten
 * as two hex words first, so the address classified is the one a socket would connect to.
 */
function hexTail(text: string): string {
  const match = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!match) return text;
  const [a, b, c, d] = match.slice(2).map(Number);
  return `${match[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

export function classifyAddress(text: string): AddressClass {
  if (isIP(text) === 0) return { range: "invalid", blocked: true };
  const address = ipaddr.parse(isIP(text) === 6 ? hexTail(text) : text);
  if (address.kind() === "ipv4") {
    const range = classifyV4(address as ipaddr.IPv4);
    return { range, blocked: range !== "unicast" };
  }
  const v6 = address as ipaddr.IPv6;
  const range = v6.range();
  const inner = embeddedV4(v6, range);
  if (inner) {
    const ranges = inner.map(classifyV4);
    const bad = ranges.find((r) => r !== "unicast");
    // A translated or tunnelled form is as reachable as what it wraps.
    return { range: bad ?? range, blocked: bad !== undefined, embedded: inner.map(String).join(",") };
  }
  // Deprecated IPv4-compatible addresses (::a.b.c.d) have no use but smuggling.
  if (range === "unicast" && v6.match(IPV4_COMPATIBLE)) return { range: "ipv4Compatible", blocked: true };
  return { range, blocked: range !== "unicast" };
}

export function isBlockedAddress(address: string): boolean {
  return classifyAddress(address).blocked;
}

export class BlockedDestinationError extends Error {
  constructor(readonly address: string) {
    super(`destination address ${address} is private, loopback, link-local, multicast or reserved`);
    this.name = "BlockedDestinationError";
  }
}

export interface ResolvedTarget {
  address: string;
  family: 4 | 6;
}

/**
 * Resolves the host once and checks every address it has; the connection is then pinned to the
 * checked address, so a second DNS answer (rebinding) cannot send it elsewhere.
 */
export async function resolveTarget(hostname: string, allowPrivate: boolean): Promise<ResolvedTarget> {
  const host = hostname.replace(/^\[|\]$/g, "");
  const literal = isIP(host);
  const addresses = literal ? [{ address: host, family: literal }] : await lookup(host, { all: true, verbatim: true });
  if (addresses.length === 0) throw new Error(`${host} has no address`);
  if (!allowPrivate) {
    const bad = addresses.find((a) => isBlockedAddress(a.address));
    if (bad) throw new BlockedDestinationError(bad.address);
  }
  const chosen = addresses[0];
  return { address: chosen.address, family: chosen.family === 6 ? 6 : 4 };
}

export interface TargetWarning {
  code: "private_address";
  message: string;
}

/**
 * At creation (SPEC §7 checks syntax only then): when the target's host resolves to an address
 * deliveries will refuse, say so now instead of leaving the operator to find pending deliveries.
 * The lookup is bounded (about a second); a host that does not resolve yet adds nothing.
 */
export async function privateAddressWarnings(url: string, allowPrivate: boolean, timeoutMs = 1000): Promise<TargetWarning[]> {
  if (allowPrivate) return [];
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return [];
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs);
  });
  const literal = isIP(host);
  const resolving = literal ? Promise.resolve([{ address: host }]) : lookup(host, { all: true, verbatim: true }).catch(() => null);
  const addresses = await Promise.race([resolving, timeout]).finally(() => clearTimeout(timer));
  const bad = addresses?.find((a) => isBlockedAddress(a.address));
  if (!bad) return [];
  return [{
    code: "private_address",
    message: `${host} resolves to ${bad.address}, a private, loopback, link-local or reserved address: deliveries will be refused unless SCAIVAULT_WEBHOOK_ALLOW_PRIVATE=true`,
  }];
}
