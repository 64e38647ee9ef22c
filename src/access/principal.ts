import type { AccessEpochs } from "./vault-tokens.js";

export type IdentityType = "user" | "service_account" | "group" | "system";
export type Role = "tenant_admin" | "partner_admin" | "super_admin";

/** Who is calling, as established by authentication; everything after reads only this. */
export interface Principal {
  identityId: string;
  identityType: IdentityType;
  displayName: string | null;
  partnerId: string;
  /** The tenant the credential belongs to (null for partner-level credentials). */
  tenantId: string | null;
  scopes: ReadonlySet<string>;
  /** Group identities (`group:sre`) whose bindings apply too. */
  groups: readonly string[];
  roles: readonly Role[];
  mfaVerifiedAt: number | null;
  tokenExpiresAt: number | null;
  /** When the credential was issued (`iat`, or the vault token's creation). */
  tokenIssuedAt?: number | null;
  tokenKind: "vault" | "scaikey" | "system";
  tokenId: string | null;
  /** Vault tokens' kind (spec/identity.md §5): `exchange` tokens carry no roles and cannot create tokens. */
  credentialKind?: "personal" | "service" | "bootstrap" | "exchange";
  /** Exchange tokens: globs every secret path the token touches must match (each list given). */
  allowedPaths?: readonly (readonly string[])[];
  /** The access counters read while authenticating this request, when authentication read them. */
  accessCounters?: AccessEpochs;
}

export function isPartnerAdmin(principal: Principal): boolean {
  return principal.roles.includes("partner_admin") || principal.roles.includes("super_admin");
}

export function identityTypeOf(identityId: string): IdentityType {
  if (identityId.startsWith("sa:")) return "service_account";
  if (identityId.startsWith("group:")) return "group";
  if (identityId.startsWith("system:")) return "system";
  return "user";
}
