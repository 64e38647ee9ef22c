import { VaultError } from "../http/errors.js";

const PREFIX = { user: "user:", service_account: "sa:", group: "group:" } as const;
const NAME = /^[A-Za-z0-9._@+\-]{1,200}$/;

/**
 * `identity_type` + `identity_id` → the canonical identity id. A bare name gets its type's prefix
 * (`reporting-service` → `sa:reporting-service`); a prefix that contradicts the type is refused.
 */
export function normalizeIdentity(type: keyof typeof PREFIX | "system", id: string): string {
  // System identities are never named freely: only those a contract defines (spec/dynamic.md D2:
  // an engine's `dynamic:<engine>`; other system ids are refused with 422).
  if (type === "system") {
    if (/^dynamic:[a-z0-9][a-z0-9_-]{0,31}$/.test(id)) return id;
    throw new VaultError("validation_error", "identity_type system may only name an engine's identity, dynamic:<engine>", { details: { fields: { identity_id: "must be dynamic:<engine name>" } } });
  }
  const prefix = PREFIX[type];
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
