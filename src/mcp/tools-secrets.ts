import { confirm, localError, p, page, partner, type ToolSpec } from "./tool.js";

const secretPath = { path: p.str("secret path, e.g. app/db/password", { maxLength: 512 }) };
const base = (args: { partner?: unknown }) => (args.partner === true ? "partner/secrets" : "secrets");

/** Secrets and their lifecycle: 13 tools (spec/mcp.md §4). `{secrets}` is `secrets` or `partner/secrets`. */
export const SECRET_TOOLS: ToolSpec[] = [
  {
    name: "read_secret", category: "secrets", title: "Read a secret", kind: "read", mask: "secret", pathArgs: ["path"],
    description: "Read a secret's value (all fields, or one with `field`) and metadata; audited as a read.",
    properties: { ...secretPath, version: p.int("a version number (default: current)", { minimum: 1 }), field: p.str("return only this field of data"), ...partner },
    required: ["path"],
    run: async (args, call) => {
      const secret = (await call({ method: "GET", path: `/v1/${base(args)}/{path}`, query: ["version"] }, args)) as { data?: Record<string, unknown> };
      if (typeof args.field !== "string") return secret;
      if (!secret.data || !Object.hasOwn(secret.data, args.field)) throw localError("not_found", `the secret has no field ${args.field}`);
      return { ...secret, data: { [args.field]: secret.data[args.field] } };
    },
  },
  {
    name: "write_secret", category: "secrets", title: "Write a secret", kind: "write", pathArgs: ["path"],
    description: "Write a new version of a secret (creates it when absent). options.cas guards against lost updates.",
    properties: { ...secretPath, data: p.obj("the secret's fields"), secret_type: p.str("kv, json, certificate, ssh_key or api_key"), metadata: p.obj("description, tags, owner, custom"), options: p.obj("max_versions, expires_in, rotation_policy_id, notify_before, cas"), ...partner },
    required: ["path", "data"],
    run: (args, call) => call({ method: "PUT", path: `/v1/${base(args)}/{path}` }, args),
  },
  {
    name: "delete_secret", category: "secrets", title: "Delete a secret", kind: "destructive", pathArgs: ["path"],
    description: "Soft-delete a secret (recoverable for 30 days), or erase it for good with permanent: true.",
    properties: { ...secretPath, permanent: p.bool("erase every version for good"), ...confirm, ...partner },
    required: ["path"],
    effect: (args) => (args.permanent === true ? `would erase ${String(args.path)} and every version for good (not recoverable)` : `would soft-delete ${String(args.path)}, recoverable for 30 days`),
    run: (args, call) => call({ method: "DELETE", path: `/v1/${base(args)}/{path}`, query: ["permanent"] }, args),
  },
  {
    name: "list_secrets", category: "secrets", title: "List secrets", kind: "read", pathArgs: ["prefix"], filter: [{ list: "data", field: "path" }],
    description: "List secret paths (no values) under a prefix, optionally by tag.",
    properties: { prefix: p.str("path prefix"), tag: p.str("only secrets with this tag"), ...page },
    route: { method: "GET", path: "/v1/secrets", query: ["prefix", "tag", "limit", "cursor"] },
  },
  {
    name: "get_secret_versions", category: "secrets", title: "List a secret's versions", kind: "read", pathArgs: ["path"],
    description: "Each version of a secret with its state and author; no values.",
    properties: { ...secretPath, ...partner }, required: ["path"],
    run: (args, call) => call({ method: "GET", path: `/v1/${base(args)}/{path}/versions` }, args),
  },
  {
    name: "rotate_secret", category: "secrets", title: "Rotate a secret now", kind: "write", pathArgs: ["path"],
    description: "Make a secret due for rotation now (generated at once with auto_generate, else rotation.due is emitted).",
    properties: secretPath, required: ["path"],
    route: { method: "POST", path: "/v1/secrets/{path}/rotate" },
  },
  {
    name: "get_secret_metadata", category: "secrets", title: "Read a secret's metadata", kind: "read", pathArgs: ["path"],
    description: "A secret's metadata, version count and options, without its value (needs list, not read).",
    properties: { ...secretPath, ...partner }, required: ["path"],
    run: (args, call) => call({ method: "GET", path: `/v1/${base(args)}/{path}/metadata` }, args),
  },
  {
    name: "update_secret_metadata", category: "lifecycle", title: "Update a secret's metadata", kind: "write", pathArgs: ["path"],
    description: "Change metadata, options or secret_type without writing a new version.",
    properties: { ...secretPath, metadata: p.obj("description, tags, owner, custom"), options: p.obj("max_versions, expires_in, rotation_policy_id, notify_before"), secret_type: p.str("kv, json, certificate, ssh_key or api_key") },
    required: ["path"],
    route: { method: "PATCH", path: "/v1/secrets/{path}/metadata" },
  },
  {
    name: "undelete_secret", category: "lifecycle", title: "Undelete a secret", kind: "write", pathArgs: ["path"],
    description: "Restore a soft-deleted secret within its recovery window.",
    properties: secretPath, required: ["path"],
    route: { method: "POST", path: "/v1/secrets/{path}/undelete" },
  },
  {
    name: "destroy_secret_versions", category: "lifecycle", title: "Destroy secret versions", kind: "destructive", pathArgs: ["path"],
    description: "Erase the ciphertext of the given versions for good.",
    properties: { ...secretPath, versions: { type: "array", items: { type: "integer", minimum: 1 }, minItems: 1, description: "version numbers" }, ...confirm },
    required: ["path", "versions"],
    effect: (args) => `would erase versions ${JSON.stringify(args.versions)} of ${String(args.path)} for good`,
    route: { method: "POST", path: "/v1/secrets/{path}/destroy" },
  },
  {
    name: "restore_secret_version", category: "lifecycle", title: "Restore an old version", kind: "write", pathArgs: ["path"], mask: "secret",
    description: "Write version N's value again as a new version (guarded by cas on the current version).",
    properties: { ...secretPath, version: p.int("the version to restore", { minimum: 1 }) },
    required: ["path", "version"],
    run: async (args, call) => {
      const old = (await call({ method: "GET", path: "/v1/secrets/{path}", query: ["version"] }, args)) as { data: unknown; secret_type: string };
      const current = (await call({ method: "GET", path: "/v1/secrets/{path}/metadata" }, { path: args.path })) as { version: number };
      const written = (await call({ method: "PUT", path: "/v1/secrets/{path}" }, { path: args.path, data: old.data, secret_type: old.secret_type, options: { cas: current.version } })) as Record<string, unknown>;
      return { ...written, restored_from: args.version, data: old.data };
    },
  },
  {
    name: "batch_read_secrets", category: "lifecycle", title: "Read many secrets", kind: "read", pathArgs: ["paths"], mask: "batch",
    description: "Read up to 100 secrets at once; each path is checked on its own.",
    properties: { paths: p.strings("secret paths", { minItems: 1, maxItems: 100 }), options: p.obj("include_metadata, fail_fast, version") },
    required: ["paths"],
    route: { method: "POST", path: "/v1/secrets/batch" },
  },
  {
    name: "list_expiring_secrets", category: "lifecycle", title: "List expiring secrets", kind: "read", filter: [{ list: "data", field: "path" }],
    description: "Secrets expiring within a duration (e.g. 30d).",
    properties: { within: p.str("duration, e.g. 7d (default 30d)"), ...page },
    route: { method: "GET", path: "/v1/secrets/expiring", query: ["within", "limit", "cursor"] },
  },
];
