import { VaultError, validationError } from "../http/errors.js";

const PREFIX = { user: "user:", service_account: "sa:", group: "group:" } as const;
const NAME = /^[A-Za-z0-9._@+\-]{1,200}$/;

/** The built-in identities a binding may name (SPEC §2): the bootstrap admin and dynamic engines (spec/dynamic.md). */
const SYSTEM_IDS = /^(system:bootstrap|dynamic:[a-z0-9][a-z0-9_-]{0,31})$/;

/**
 * A binding's `system` identity: only those a contract defines; anything else in the built-in
 * namespaces (`system:`, `dynamic:`), or under another type, is `422`.
 */
function normalizeSystemIdentity(type: string, id: string): string | null {
  const builtIn = /^(system|dynamic):/.test(id);
  if (type !== "system" && !builtIn) return null;
  if (type === "system" && SYSTEM_IDS.test(id)) return id;
  throw validationError({ identity_id: "a system identity must be system:bootstrap or dynamic:<engine>, with identity_type system" });
}

/**
 * `identity_type` + `identity_id` → the canonical identity id. A bare name gets its type's prefix
 * (`reporting-service` → `sa:reporting-service`); a prefix that contradicts the type is refused.
 */
export function normalizeIdentity(type: keyof typeof PREFIX | "system", id: string): string {
  const system = normalizeSystemIdentity(type, id);
  if (system !== null) return system;
  const prefix = PREFIX[type as keyof typeof PREFIX];
  const hasPrefix = /^[a-z_]+:/.exec(id);
  if (hasPrefix && hasPrefix[0] !== prefix) {
    throw new VaultError("invalid_policy", `identity_id "${id}" does not match identity_type ${type} (expected ${prefix}…)`, { details: { identity_type: type } });
  }
  const name = hasPrefix ? id.slice(prefix.length) : id;
  if (!NAME.test(name)) {
    throw new VaultError("invalid_policy", "identity_id may use letters, digits and . _ @ + - after its prefix", { details: { identity_type: type } });
  }
  return `${prefix}${name}`;
}
