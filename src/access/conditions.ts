import { BlockList, isIP } from "node:net";
import type { ErrorCode } from "../http/errors.js";
import type { RuleConditions, TimeWindow } from "./policy-model.js";

/** What conditions are checked against: taken from the request, or from `POST /v1/policies/test`. */
export interface ConditionContext {
  sourceIp: string | null;
  mfaVerifiedAt: number | null;
  now: number;
}

export interface ConditionFailure {
  code: ErrorCode;
  condition: "ip_ranges" | "require_mfa" | "time_window";
}

export type CompiledConditions = (context: ConditionContext) => ConditionFailure | null;

/** How recent an MFA verification must be for `require_mfa`: the lifetime of a ScaiKey session token. */
export const MFA_MAX_AGE_MS = 60 * 60 * 1000;

const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const CIDR = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/;

/** Why `conditions` cannot be compiled, or null. Checked when a policy is written, never at request time. */
export function conditionsProblem(conditions: RuleConditions): string | null {
  for (const range of conditions.ip_ranges ?? []) {
    if (parseCidr(range) === null) return `ip_ranges: "${range}" is not a CIDR range such as 10.0.0.0/8`;
  }
  const window = conditions.time_window;
  if (window) {
    if (!HHMM.test(window.start) || !HHMM.test(window.end)) return "time_window: start and end are HH:MM (24-hour)";
    if (window.start === window.end) return "time_window: start and end must differ";
    if (window.timezone !== undefined && !validTimeZone(window.timezone)) return `time_window: unknown timezone "${window.timezone}"`;
    for (const day of window.days ?? []) {
      if (!(DAYS as readonly string[]).includes(day)) return `time_window: days are ${DAYS.join(", ")}`;
    }
  }
  return null;
}

function parseCidr(range: string): { address: string; prefix: number; family: "ipv4" | "ipv6" } | null {
  const match = CIDR.exec(range);
  if (!match) return null;
  const version = isIP(match[1]);
  const prefix = Number(match[2]);
  if (version === 4 && prefix <= 32) return { address: match[1], prefix, family: "ipv4" };
  if (version === 6 && prefix <= 128) return { address: match[1], prefix, family: "ipv6" };
  return null;
}

function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** `::ffff:10.1.2.3` (IPv4 mapped on a dual-stack socket) is checked as `10.1.2.3`. */
function normalizeIp(ip: string): { address: string; family: "ipv4" | "ipv6" } | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const address = mapped ? mapped[1] : ip;
  const version = isIP(address);
  return version === 4 ? { address, family: "ipv4" } : version === 6 ? { address, family: "ipv6" } : null;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function localTime(now: number, zone: string): { day: string; minutes: number } {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", { timeZone: zone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    formatters.set(zone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(now).map((p) => [p.type, p.value]));
  return { day: String(parts.weekday).toLowerCase().slice(0, 3), minutes: Number(parts.hour) * 60 + Number(parts.minute) };
}

const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Inside the window: [start, end) local time; an end before the start spans midnight (the day is the day it started). */
export function insideWindow(window: TimeWindow, now: number): boolean {
  const { day, minutes } = localTime(now, window.timezone ?? "UTC");
  const start = toMinutes(window.start);
  const end = toMinutes(window.end);
  const days = window.days && window.days.length > 0 ? window.days : null;
  if (start < end) return minutes >= start && minutes < end && (!days || days.includes(day));
  if (minutes >= start) return !days || days.includes(day);
  if (minutes < end) {
    const yesterday = DAYS[(DAYS.indexOf(day as (typeof DAYS)[number]) + 6) % 7];
    return !days || days.includes(yesterday);
  }
  return false;
}

/** Compiles a rule's conditions once; every one must hold (they are ANDed), checked in a fixed order. */
export function compileConditions(conditions: RuleConditions | undefined): CompiledConditions | null {
  if (!conditions) return null;
  const checks: CompiledConditions[] = [];
  if (conditions.ip_ranges && conditions.ip_ranges.length > 0) {
    const list = new BlockList();
    for (const range of conditions.ip_ranges) {
      const cidr = parseCidr(range);
      if (cidr) list.addSubnet(cidr.address, cidr.prefix, cidr.family);
    }
    checks.push(({ sourceIp }) => {
      const ip = sourceIp ? normalizeIp(sourceIp) : null;
      return ip && list.check(ip.address, ip.family) ? null : { code: "ip_not_allowed", condition: "ip_ranges" };
    });
  }
  if (conditions.require_mfa === true) {
    checks.push(({ mfaVerifiedAt, now }) =>
      mfaVerifiedAt !== null && mfaVerifiedAt <= now + 60_000 && now - mfaVerifiedAt <= MFA_MAX_AGE_MS ? null : { code: "mfa_required", condition: "require_mfa" },
    );
  }
  if (conditions.time_window) {
    const window = conditions.time_window;
    checks.push(({ now }) => (insideWindow(window, now) ? null : { code: "time_window_violation", condition: "time_window" }));
  }
  if (checks.length === 0) return null;
  return (context) => {
    for (const check of checks) {
      const failure = check(context);
      if (failure) return failure;
    }
    return null;
  };
}
