import { VaultError } from "../http/errors.js";

const PREFIX = { user: "user:", service_account: "sa:", group: "group:" } as const;
const NAME = /^[A-Za-z0-9._@+\-]{1,200}$/;

/**
 * `identity_type` + `identity_id` → the canonical identity id. A bare name gets its type's prefix
 * (`reporting-service` → `sa:reporting-service`); a prefix that contradicts the type is refused.
 */
export function normalizeIdentity(type: keyof typeof PREFIX, id: string): string {
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
