import type { Keyring } from "../crypto/keyring.js";
import type { PolicyStore } from "../access/policy-store.js";
import type { VaultTokens } from "../access/vault-tokens.js";
import { SCOPES } from "../access/scopes.js";
import { newId } from "../shared/ids.js";
import type { Database } from "../storage/contract.js";
import { isUniqueViolation } from "../storage/contract.js";
import type { TenancyStore } from "./store.js";

export const DEFAULT_PARTNER_ID = "ptn_default";
export const DEFAULT_TENANT_ID = "tnt_default";
/** SPEC §2: a built-in identity in the `system:` namespace, which no token mapping can produce. */
export const BOOTSTRAP_ADMIN = "system:bootstrap";

export interface BootstrapResult {
  /** The admin token when this start created it and it was not configured: print it once. */
  generatedToken: string | null;
  created: boolean;
}

/**
 * Standalone bootstrap: on first start with an empty database, the default partner and tenant, a
 * built-in partner-wide policy granting `admin` on `**` bound to `system:bootstrap`, and an admin token.
 * All in one transaction, so a crash leaves either nothing or everything.
 */
export async function bootstrap(deps: BootstrapDeps, configuredToken: string | null): Promise<BootstrapResult> {
  // A token given in the environment is honoured on an existing database too.
  const existing = async (): Promise<BootstrapResult> => {
    if (configuredToken && !(await deps.tokens.isRegistered(configuredToken))) {
      await deps.tokens.issue(adminToken(configuredToken));
    }
    return { generatedToken: null, created: false };
  };
  if ((await deps.tenancy.countPartners()) > 0) return existing();
  try {
    return { generatedToken: await createDefaults(deps, configuredToken), created: true };
  } catch (error) {
    // Another node sharing the database bootstrapped first: its rows stand, nothing is printed here.
    if (isUniqueViolation(error)) return existing();
    throw error;
  }
}

type BootstrapDeps = { db: Database; tenancy: TenancyStore; policies: PolicyStore; tokens: VaultTokens; keyring: Keyring };

/** Creates the defaults in one transaction; answers the generated token (null when configured). */
async function createDefaults(deps: BootstrapDeps, configuredToken: string | null): Promise<string | null> {
  const { db, tenancy, policies, tokens, keyring } = deps;
  const now = Date.now();
  let generated: string | null = null;
  await db.transaction(async (tx) => {
    await tenancy.insertPartner({ id: DEFAULT_PARTNER_ID, name: "Default partner", createdAt: now }, tx);
    await tenancy.insertTenant({ id: DEFAULT_TENANT_ID, partnerId: DEFAULT_PARTNER_ID, name: "Default tenant", createdAt: now }, tx);
    await keyring.ensureTenantKey(DEFAULT_TENANT_ID, DEFAULT_PARTNER_ID, tx);
    const policyId = newId("pol");
    await policies.insertPolicy(
      {
        id: policyId,
        partnerId: DEFAULT_PARTNER_ID,
        tenantId: null,
        scope: "partner",
        name: "builtin-admin",
        description: "Built-in: the bootstrap administrator may do anything on every path",
        rules: [{ path_pattern: "**", permissions: ["admin"] }],
        builtin: true,
        isActive: true,
        createdAt: now,
        updatedAt: now,
      },
      tx,
    );
    await policies.insertBinding(
      { id: newId("bnd"), policyId, partnerId: DEFAULT_PARTNER_ID, tenantId: null, identityType: "system", identityId: BOOTSTRAP_ADMIN, expiresAt: null, createdAt: now },
      tx,
    );
    const issued = await tokens.issue(adminToken(configuredToken ?? undefined), tx);
    if (!configuredToken) generated = issued.token;
  });
  return generated;
}

function adminToken(plaintext: string | undefined) {
  return {
    partnerId: DEFAULT_PARTNER_ID,
    tenantId: DEFAULT_TENANT_ID,
    identityId: BOOTSTRAP_ADMIN,
    identityType: "system" as const,
    scopes: [...SCOPES],
    roles: ["partner_admin" as const],
    description: "Bootstrap administrator",
    createdBy: "system:bootstrap",
    expiresAt: null,
    kind: "bootstrap" as const,
    plaintext,
  };
}
