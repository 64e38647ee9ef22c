import { confirm, p, page, type Json, type ToolSpec } from "./tool.js";

const policyId = { policy_id: p.str("policy id (pol_…)") };
const rotationId = { policy_id: p.str("rotation policy id (rot_…)") };
const rulePatterns = (args: Json) => (Array.isArray(args.rules) ? args.rules.map((r) => String((r as Json)?.path_pattern ?? "")) : []);

/** Policies, rotation and secret policies: 21 tools. */
export const POLICY_TOOLS: ToolSpec[] = [
  { name: "list_policies", category: "policies", title: "List policies", kind: "read", description: "Access policies of the tenant.", properties: { ...page }, route: { method: "GET", path: "/v1/policies", query: ["limit", "cursor"] } },
  {
    name: "get_policy", category: "policies", title: "Get a policy", kind: "read", description: "One policy with its rules and bindings.", properties: policyId, required: ["policy_id"],
    run: async (args, call) => {
      const policy = (await call({ method: "GET", path: "/v1/policies/{policy_id}" }, args)) as Json;
      const bindings = (await call({ method: "GET", path: "/v1/policies/{policy_id}/bindings" }, args)) as Json;
      return { ...policy, bindings: bindings.data ?? bindings.bindings ?? bindings };
    },
  },
  {
    name: "create_policy", category: "policies", title: "Create a policy", kind: "write", patterns: rulePatterns,
    description: "Create a policy of path-pattern rules (grants nothing until bound; never more than the caller holds).",
    properties: { name: p.str("unique name"), description: p.str("what it is for"), scope: p.str("tenant or partner"), rules: { type: "array", items: { type: "object" }, description: "[{path_pattern, permissions, conditions, effect}]" } },
    required: ["name", "rules"], route: { method: "POST", path: "/v1/policies" },
  },
  {
    name: "update_policy", category: "policies", title: "Update a policy", kind: "write", patterns: rulePatterns,
    description: "Change a policy's name, description or rules (bindings stay).",
    properties: { ...policyId, name: p.str("new name"), description: p.str("description"), rules: { type: "array", items: { type: "object" }, description: "replacement rules" } },
    required: ["policy_id"], route: { method: "PATCH", path: "/v1/policies/{policy_id}" },
  },
  {
    name: "delete_policy", category: "policies", title: "Delete a policy", kind: "destructive", description: "Delete a policy (force: true also when bound).",
    properties: { ...policyId, force: p.bool("delete even while bound"), ...confirm }, required: ["policy_id"],
    effect: (args) => `would delete policy ${String(args.policy_id)}${args.force === true ? " and its bindings" : ""}`,
    route: { method: "DELETE", path: "/v1/policies/{policy_id}", query: ["force"] },
  },
  {
    name: "bind_policy", category: "policies", title: "Bind a policy", kind: "write", grantsAccess: true,
    description: "Bind a policy to a user, service account or group.",
    properties: { ...policyId, identity_type: p.str("user, service_account, group or system"), identity_id: p.str("e.g. sa:reporting"), expires_at: p.str("RFC 3339 time the binding ends") },
    required: ["policy_id", "identity_type", "identity_id"], route: { method: "POST", path: "/v1/policies/{policy_id}/bindings" },
  },
  {
    name: "unbind_policy", category: "policies", title: "Unbind a policy", kind: "destructive", description: "Remove one binding of a policy.",
    properties: { ...policyId, binding_id: p.str("binding id (bnd_…)"), ...confirm }, required: ["policy_id", "binding_id"],
    effect: (args) => `would remove binding ${String(args.binding_id)} from policy ${String(args.policy_id)}`,
    route: { method: "DELETE", path: "/v1/policies/{policy_id}/bindings/{binding_id}" },
  },
  {
    name: "test_policy", category: "policies", title: "Test a policy decision", kind: "read", pathArgs: ["path"],
    description: "Would this identity get this permission on this path? (no audit entry)",
    properties: { identity_id: p.str("e.g. sa:reporting"), path: p.str("secret path"), permission: p.str("read, write, delete, list, rotate or admin"), context: p.obj("source_ip, mfa_verified, timestamp") },
    required: ["identity_id", "path", "permission"], route: { method: "POST", path: "/v1/policies/test" },
  },
  { name: "list_rotation_policies", category: "rotation", title: "List rotation policies", kind: "read", description: "Rotation policies with their intervals.", properties: { ...page }, route: { method: "GET", path: "/v1/rotation/policies", query: ["limit", "cursor"] } },
  { name: "get_rotation_policy", category: "rotation", title: "Get a rotation policy", kind: "read", description: "One rotation policy.", properties: rotationId, required: ["policy_id"], route: { method: "GET", path: "/v1/rotation/policies/{policy_id}" } },
  {
    name: "create_rotation_policy", category: "rotation", title: "Create a rotation policy", kind: "write", description: "A schedule for rotating secrets (interval, grace period, warnings, generation).",
    properties: { name: p.str("unique name"), interval: p.str("e.g. 90d"), grace_period: p.str("default 48h"), warn_before: p.str("e.g. 7d,1d"), auto_generate: p.bool("generate the new value"), secret_policy_id: p.str("sp_… generating the value"), webhook_ids: p.strings("webhooks to notify"), description: p.str("what it is for") },
    required: ["name", "interval"], route: { method: "POST", path: "/v1/rotation/policies" },
  },
  {
    name: "update_rotation_policy", category: "rotation", title: "Update a rotation policy", kind: "write", description: "Change a rotation policy; is_active enables or disables it.",
    properties: { ...rotationId, interval: p.str("e.g. 30d"), grace_period: p.str("e.g. 24h"), warn_before: p.str("e.g. 7d"), auto_generate: p.bool("generate values"), secret_policy_id: p.str("sp_…"), description: p.str("description"), is_active: p.bool("false pauses, true resumes") },
    required: ["policy_id"],
    run: async (args, call) => {
      const { is_active: active, ...rest } = args;
      let result: unknown = null;
      if (Object.keys(rest).length > 1) result = await call({ method: "PATCH", path: "/v1/rotation/policies/{policy_id}" }, rest);
      if (typeof active === "boolean") result = await call({ method: "POST", path: `/v1/rotation/policies/{policy_id}/${active ? "enable" : "disable"}` }, { policy_id: args.policy_id });
      return result ?? call({ method: "GET", path: "/v1/rotation/policies/{policy_id}" }, { policy_id: args.policy_id });
    },
  },
  {
    name: "delete_rotation_policy", category: "rotation", title: "Delete a rotation policy", kind: "destructive", description: "Delete a rotation policy.",
    properties: { ...rotationId, ...confirm }, required: ["policy_id"], effect: (args) => `would delete rotation policy ${String(args.policy_id)}`,
    route: { method: "DELETE", path: "/v1/rotation/policies/{policy_id}" },
  },
  {
    name: "assign_rotation_policy", category: "rotation", title: "Assign a rotation policy", kind: "write", pathArgs: ["secret_path"], description: "Put a secret on a rotation schedule.",
    properties: { ...rotationId, secret_path: p.str("secret path") }, required: ["policy_id", "secret_path"], route: { method: "POST", path: "/v1/rotation/policies/{policy_id}/secrets" },
  },
  {
    name: "unassign_rotation_policy", category: "rotation", title: "Unassign a rotation policy", kind: "destructive", pathArgs: ["secret_path"], description: "Take a secret off a rotation schedule.",
    properties: { ...rotationId, secret_path: p.str("secret path"), ...confirm }, required: ["policy_id", "secret_path"],
    effect: (args) => `would stop rotating ${String(args.secret_path)} under ${String(args.policy_id)}`,
    route: { method: "DELETE", path: "/v1/rotation/policies/{policy_id}/secrets/{secret_path}" },
  },
  {
    name: "get_rotation_history", category: "rotation", title: "Rotation history", kind: "read", filter: [{ list: "data", field: "secret_path" }], description: "Past rotations under a policy.",
    properties: { ...rotationId, status: p.str("filter by status"), ...page }, required: ["policy_id"], route: { method: "GET", path: "/v1/rotation/policies/{policy_id}/history", query: ["status", "limit", "cursor"] },
  },
  {
    name: "list_due_rotations", category: "rotation", title: "Due rotations", kind: "read", filter: [{ list: "data", field: "path" }], description: "Secrets due (or overdue) for rotation.",
    properties: { within_hours: p.int("look ahead this many hours (default 24)", { minimum: 0 }), include_overdue: p.bool("include overdue ones (default true)") },
    route: { method: "GET", path: "/v1/rotation/due", query: ["within_hours", "include_overdue"] },
  },
  { name: "list_secret_policies", category: "secret_policies", title: "List secret policies", kind: "read", description: "Value generators used by rotation.", properties: { ...page }, route: { method: "GET", path: "/v1/secret-policies", query: ["limit", "cursor"] } },
  {
    name: "create_secret_policy", category: "secret_policies", title: "Create a secret policy", kind: "write", description: "A recipe of generated fields (random, hex, uuid, template, keypairs, …).",
    properties: { name: p.str("unique name"), policy_type: p.str("e.g. password"), fields: { type: "array", items: { type: "object" }, description: "[{name, generator, config}]" }, is_active: p.bool("active (default true)"), description: p.str("what it is for") },
    required: ["name", "policy_type", "fields"], route: { method: "POST", path: "/v1/secret-policies" },
  },
  {
    name: "delete_secret_policy", category: "secret_policies", title: "Delete a secret policy", kind: "destructive", description: "Delete a secret policy.",
    properties: { policy_id: p.str("secret policy id (sp_…)"), ...confirm }, required: ["policy_id"], effect: (args) => `would delete secret policy ${String(args.policy_id)}`,
    route: { method: "DELETE", path: "/v1/secret-policies/{policy_id}" },
  },
  {
    name: "preview_secret_policy", category: "secret_policies", title: "Preview a secret policy", kind: "read", mask: "preview", description: "Generate a sample value (nothing stored).",
    properties: { policy_id: p.str("secret policy id (sp_…)") }, required: ["policy_id"], route: { method: "POST", path: "/v1/secret-policies/{policy_id}/preview" },
  },
];
