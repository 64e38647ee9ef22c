import { isIP } from "node:net";
import { VaultError } from "../http/errors.js";

/** What a role allows (contract P3), as the name checks need it. */
export interface NameRules {
  allowed_domains: string[];
  allow_subdomains: boolean;
  allow_ip_sans: boolean;
}

// A requested name: labels of a-z 0-9 - _, or a leading `*` label (a wildcard certificate).
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

export function normalizeDnsName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, "");
}

function wellFormed(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split(".");
  return labels.every((label, i) => LABEL.test(label) || (i === 0 && label === "*" && labels.length > 1));
}

/**
 * One entry label against one name label: `*` alone is any one label; `*` inside a label is any run
 * of label characters. Matched in place, left to right (each part at its first place after the
 * last): a RegExp built per name and entry cost ~10,000 compilations for a request's 100 names
 * against a role's 100 entries. A requested wildcard label `*` is no run of label characters.
 */
function labelMatches(pattern: string, label: string): boolean {
  if (pattern === "*") return true;
  if (!pattern.includes("*")) return pattern === label;
  if (label.includes("*")) return false;
  const parts = pattern.split("*");
  const first = parts[0];
  const last = parts[parts.length - 1];
  if (label.length < first.length + last.length || !label.startsWith(first) || !label.endsWith(last)) return false;
  let at = first.length;
  const end = label.length - last.length;
  for (const part of parts.slice(1, -1)) {
    const found = label.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/**
 * Entry `example.com` allows that name (and, with `allow_subdomains`, any name below it); in an
 * entry with `*`, `*` is one label. A requested wildcard name's `*` is matched as a label too.
 */
export function entryAllows(entry: string, name: string, allowSubdomains: boolean): boolean {
  return labelsAllowed(normalizeDnsName(entry).split("."), name.split("."), allowSubdomains);
}

function labelsAllowed(pattern: readonly string[], labels: readonly string[], allowSubdomains: boolean): boolean {
  if (labels.length < pattern.length) return false;
  if (labels.length > pattern.length && !allowSubdomains) return false;
  const offset = labels.length - pattern.length;
  return pattern.every((p, i) => labelMatches(p, labels[offset + i]));
}

function refused(name: string, why: string): VaultError {
  return new VaultError("name_not_allowed", `The name ${JSON.stringify(name)} is not allowed by this role: ${why}`, { details: { name } });
}

export interface CheckedNames {
  commonName: string | null;
  dnsNames: string[];
  ipSans: string[];
}

/**
 * Every CN and SAN is checked; the first refused is `name_not_allowed`. The CN joins the SANs (as a
 * DNS name, or an IP SAN when it is an address).
 */
export function checkNames(rules: NameRules, commonName: string | null, altNames: readonly string[], ipSans: readonly string[]): CheckedNames {
  // Each entry split once per request, not once per name it is checked against.
  const entries = rules.allowed_domains.map((entry) => normalizeDnsName(entry).split("."));
  const dns = new Set<string>();
  const ips: string[] = [];
  const cn = commonName === null ? null : commonName.trim();
  const candidates = [...(cn ? [cn] : []), ...altNames];
  for (const raw of candidates) {
    if (isIP(raw.trim())) {
      ips.push(raw.trim());
      continue;
    }
    const name = normalizeDnsName(raw);
    if (!wellFormed(name)) throw refused(raw, "not a DNS name");
    const labels = name.split(".");
    if (!entries.some((pattern) => labelsAllowed(pattern, labels, rules.allow_subdomains))) throw refused(raw, "no allowed_domains entry covers it");
    dns.add(name);
  }
  for (const raw of ipSans) {
    if (!isIP(raw.trim())) throw refused(raw, "not an IP address");
    ips.push(raw.trim());
  }
  if (ips.length > 0 && !rules.allow_ip_sans) throw refused(ips[0], "the role does not allow IP SANs");
  const commonOut = cn === null ? null : isIP(cn) ? cn : normalizeDnsName(cn);
  return { commonName: commonOut, dnsNames: [...dns], ipSans: [...new Set(ips)] };
}
