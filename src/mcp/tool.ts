import type { ErrorCode } from "../http/errors.js";
import type { Category } from "./config.js";

export type Json = Record<string, unknown>;
export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** One API call: `{name}` in the path is filled from the argument of that name (`{path}`: a secret path). */
export interface Route {
  method: Method;
  path: string;
  /** Arguments sent as query parameters; every other argument not in the path goes in the body. */
  query?: string[];
}

/** What the API answer holds that masking must hide (spec/mcp.md §3). */
export type MaskKind = "secret" | "batch" | "token" | "signing" | "preview" | "issued" | "lease";

/** Runs one API call for a composite tool; `Api` adds the MCP headers and the tenant lock. */
export type Call = (route: Route, args: Json) => Promise<unknown>;

export interface ToolSpec {
  /** Without the `scaivault_` prefix. */
  name: string;
  category: Category;
  title: string;
  description: string;
  kind: "read" | "write" | "destructive";
  idempotent?: boolean;
  properties: Record<string, Json>;
  required?: string[];
  route?: Route;
  /** Composite tools (several calls) instead of `route`. */
  run?: (args: Json, call: Call) => Promise<unknown>;
  /** Arguments holding secret paths (a string or a list of strings), held to the path guardrails. */
  pathArgs?: string[];
  /** Secret paths the API writes when an argument is left out (its default), held to the path guardrails like `pathArgs`. */
  impliedPaths?: (args: Json) => string[];
  /** Globs nested in the arguments, checked by their literal prefix before the first wildcard. */
  patterns?: (args: Json) => string[];
  /**
   * Path prefixes nested in the arguments that the API matches as raw string prefixes (webhook and
   * export `filters.path_prefix`): `app/db` there also reaches `app/dbx`. An absent filter is `""`,
   * which reaches every path.
   */
  prefixes?: (args: Json) => string[];
  /** Tools that hand out access beyond one path: refused whenever path guardrails are set. */
  grantsAccess?: boolean;
  mask?: MaskKind;
  /** Result lists filtered to the allowed paths: the key of each list and its items' path field. */
  /**
   * List answers filtered to the paths the server may touch: items whose `field` names another
   * path are dropped; `named`: fields of the item holding lists of paths (a batch read's audit
   * entry names its paths in `extra_data`), kept to the allowed ones.
   */
  filter?: { list: string; field: string; named?: string[] }[];
  /** For destructive tools: what would happen, said when confirmation is missing. */
  effect?: (args: Json) => string;
}

const str = (description: string, extra: Json = {}): Json => ({ type: "string", description, ...extra });
const int = (description: string, extra: Json = {}): Json => ({ type: "integer", description, ...extra });
const bool = (description: string): Json => ({ type: "boolean", description });
const obj = (description: string): Json => ({ type: "object", description });
const strings = (description: string, extra: Json = {}): Json => ({ type: "array", items: { type: "string" }, description, ...extra });

export const p = { str, int, bool, obj, strings };
export const page = { limit: int("page size", { minimum: 1, maximum: 1000 }), cursor: str("cursor from the previous page") };
export const confirm = { confirm: bool("must be true to carry out this destructive action") };
export const partner = { partner: bool("true: the partner's secrets (/v1/partner/secrets) instead of the tenant's") };

/**
 * An error the server answers itself, before or instead of an API call: its code comes from the
 * API's closed list (src/http/errors.ts); the guardrails' refusals have their own three codes.
 */
export const localError = (code: ErrorCode, message: string) => Object.assign(new Error(message), { code });
