import { validationError, VaultError } from "../http/errors.js";
import { parseServer } from "./client.js";
import { TSIG_ALGORITHMS, type TsigAlgorithm } from "./tsig.js";
import { canonicalName } from "./wire.js";

/** Types built now, types validated but not built yet (422), and the docs' others (422 until built). */
export const BUILT_TYPES = ["rfc2136"] as const;
export const PLANNED_TYPES = ["cloudflare", "route53"] as const;
export const LATER_TYPES = ["scaidns", "azure", "google", "digitalocean", "powerdns"] as const;

export interface Rfc2136Config {
  server: string;
  tsig_key_name: string | null;
  tsig_algorithm: TsigAlgorithm;
  ttl: number;
}

export interface Rfc2136Credentials {
  tsig_secret?: string;
}

const DNS_NAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function unknownFields(field: string, value: Record<string, unknown>, allowed: string[]): void {
  const extra = Object.keys(value).filter((k) => !allowed.includes(k));
  if (extra.length) throw validationError({ [field]: `unknown field(s) ${extra.join(", ")}; allowed: ${allowed.join(", ")}` });
}

export function requireProviderType(type: string): void {
  if ((BUILT_TYPES as readonly string[]).includes(type)) return;
  if ((PLANNED_TYPES as readonly string[]).includes(type) || (LATER_TYPES as readonly string[]).includes(type)) return;
  throw new VaultError("invalid_request", `Unknown provider_type ${JSON.stringify(type)}; one of ${[...BUILT_TYPES, ...PLANNED_TYPES, ...LATER_TYPES].join(", ")}`, { details: { provider_type: type } });
}

/** Zones as stored: lowercase, no trailing dot, `zone` or `*.zone`, no duplicates. */
export function normalizeZones(zones: unknown): string[] {
  if (!Array.isArray(zones) || zones.length === 0 || zones.length > 100) throw validationError({ managed_zones: "must list 1 to 100 zones" });
  const out: string[] = [];
  for (const zone of zones) {
    if (typeof zone !== "string") throw validationError({ managed_zones: "entries must be strings" });
    const canon = canonicalName(zone);
    const bare = canon.startsWith("*.") ? canon.slice(2) : canon;
    if (!DNS_NAME.test(bare)) throw validationError({ managed_zones: `${JSON.stringify(zone)} is not a zone or *.zone` });
    if (!out.includes(canon)) out.push(canon);
  }
  return out;
}

/** The DNS zone an entry names (`*.zone` → `zone`). */
export const zoneOf = (entry: string) => (entry.startsWith("*.") ? entry.slice(2) : entry);

/** The distinct DNS zones behind the managed entries. */
export const dnsZones = (entries: string[]) => [...new Set(entries.map(zoneOf))];

/**
 * The entry's zone if `domain` is covered by it, else null: `zone` covers the name itself,
 * `*.zone` every name below it (a wildcard `*.x.zone` included).
 */
export function coveringZone(entry: string, domain: string): string | null {
  const name = canonicalName(domain);
  if (entry.startsWith("*.")) {
    const zone = entry.slice(2);
    return name.endsWith(`.${zone}`) ? zone : null;
  }
  return name === entry ? entry : null;
}

/** The longest managed zone covering `domain`, or null. */
export function longestCovering(entries: string[], domain: string): string | null {
  let best: string | null = null;
  for (const entry of entries) {
    const zone = coveringZone(entry, domain);
    if (zone !== null && (best === null || zone.length > best.length)) best = zone;
  }
  return best;
}

/** The longest managed zone containing a record name (e.g. `_acme-challenge.<domain>`), for the UPDATE. */
export function zoneForRecord(entries: string[], recordName: string): string | null {
  const name = canonicalName(recordName);
  let best: string | null = null;
  for (const zone of dnsZones(entries)) {
    if ((name === zone || name.endsWith(`.${zone}`)) && (best === null || zone.length > best.length)) best = zone;
  }
  return best;
}

export function settleRfc2136(config: unknown, credentials: unknown, base?: { config: Rfc2136Config; credentials: Rfc2136Credentials }): { config: Rfc2136Config; credentials: Rfc2136Credentials } {
  if (config !== undefined && !isObject(config)) throw validationError({ config: "must be an object" });
  if (credentials !== undefined && !isObject(credentials)) throw validationError({ credentials: "must be an object" });
  const c = (config ?? {}) as Record<string, unknown>;
  unknownFields("config", c, ["server", "tsig_key_name", "tsig_algorithm", "ttl"]);
  const merged = { ...(base?.config ?? {}), ...c } as Record<string, unknown>;
  if (typeof merged.server !== "string") throw validationError({ "config.server": "is required, as host:port" });
  try {
    parseServer(merged.server);
  } catch {
    throw validationError({ "config.server": "must be host:port (IPv6 as [addr]:port)" });
  }
  const keyName = merged.tsig_key_name ?? null;
  if (keyName !== null && (typeof keyName !== "string" || !DNS_NAME.test(canonicalName(keyName)))) throw validationError({ "config.tsig_key_name": "must be a DNS name" });
  const algorithm = (merged.tsig_algorithm ?? "hmac-sha256") as string;
  if (!(algorithm in TSIG_ALGORITHMS)) throw validationError({ "config.tsig_algorithm": `must be one of ${Object.keys(TSIG_ALGORITHMS).join(", ")}` });
  const ttl = merged.ttl ?? 60;
  if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 0 || ttl > 86_400) throw validationError({ "config.ttl": "must be an integer from 0 to 86400" });

  let creds: Rfc2136Credentials = base?.credentials ?? {};
  if (credentials !== undefined) {
    const given = credentials as Record<string, unknown>;
    unknownFields("credentials", given, ["tsig_secret"]);
    if (given.tsig_secret !== undefined && (typeof given.tsig_secret !== "string" || !BASE64.test(given.tsig_secret) || Buffer.from(given.tsig_secret, "base64").length < 16)) {
      throw validationError({ "credentials.tsig_secret": "must be base64 of at least 16 bytes" });
    }
    creds = given.tsig_secret === undefined ? {} : { tsig_secret: given.tsig_secret as string };
  }
  if (keyName !== null && !creds.tsig_secret) throw validationError({ "credentials.tsig_secret": "is required with config.tsig_key_name" });
  if (keyName === null && creds.tsig_secret) throw validationError({ "config.tsig_key_name": "is required with credentials.tsig_secret" });
  return { config: { server: merged.server, tsig_key_name: keyName === null ? null : canonicalName(keyName as string), tsig_algorithm: algorithm as TsigAlgorithm, ttl }, credentials: creds };
}

/** cloudflare and route53: their shapes are checked, then 422 (not built yet); the docs' other types likewise 422. */
export function refuseUnbuilt(type: string, config: unknown, credentials: unknown): never {
  const creds = isObject(credentials) ? credentials : {};
  if (config !== undefined && !isObject(config)) throw validationError({ config: "must be an object" });
  if (type === "cloudflare") {
    unknownFields("credentials", creds, ["api_token"]);
    if (typeof creds.api_token !== "string" || creds.api_token === "") throw validationError({ "credentials.api_token": "is required" });
  } else if (type === "route53") {
    unknownFields("credentials", creds, ["access_key_id", "secret_access_key", "region"]);
    if (creds.access_key_id !== undefined && typeof creds.access_key_id !== "string") throw validationError({ "credentials.access_key_id": "must be a string" });
    if (typeof creds.secret_access_key !== "string" || creds.secret_access_key === "") throw validationError({ "credentials.secret_access_key": "is required" });
    if (creds.region !== undefined && (typeof creds.region !== "string" || !/^[a-z0-9-]{1,32}$/.test(creds.region))) throw validationError({ "credentials.region": "must be an AWS region name" });
  }
  throw validationError({ provider_type: `${type} providers are not built yet; use rfc2136` }, `The ${type} DNS provider type is not available yet (only rfc2136 is built)`);
}
