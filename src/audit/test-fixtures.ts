import { PolicyStore } from "../access/policy-store.js";
import type { PolicyRule } from "../access/policy-model.js";
import { TokenStore } from "../access/token-store.js";
import { VaultTokens } from "../access/vault-tokens.js";
import type { IdentityType, Role } from "../access/principal.js";
import { Keyring } from "../crypto/keyring.js";
import { LocalRootKey } from "../crypto/root-key.js";
import { newId } from "../shared/ids.js";
import type { Queryable } from "../storage/contract.js";
import { ApiClient, type TestVault } from "../testing/harness.js";
import { CheckpointSigner } from "./checkpoint-signer.js";
import { Checkpoints } from "./checkpoints.js";
import { AuditRetention, type RetentionSettings } from "./retention.js";
import { insertMentions, mentionsOf } from "./mentions.js";
import { AuditRollups } from "./rollups.js";

/**
 * Issues a vault token for an identity and binds it a policy, through the access domain's own
 * stores on the test's database (the real code, not a stand-in), so audit tests do not depend on
 * the policy and token HTTP APIs.
 */
export async function identityWith(
  t: TestVault,
  identity: { id: string; type: IdentityType; scopes: string[]; rules?: PolicyRule[]; roles?: Role[]; tenantId?: string },
): Promise<ApiClient> {
  const { db, config } = t.vault;
  const keyring = new Keyring(db, new LocalRootKey(config.kms.localKey!));
  const policies = new PolicyStore(db);
  const tokens = new VaultTokens(new TokenStore(db), await keyring.systemKey("token-hash"), policies);
  const tenantId = identity.tenantId ?? "tnt_default";
  const now = Date.now();
  const issued = await db.transaction(async (tx) => {
    if (identity.rules && identity.rules.length > 0) {
      const policyId = newId("pol");
      await policies.insertPolicy(
        { id: policyId, partnerId: "ptn_default", tenantId, scope: "tenant", name: `test-${policyId}`, description: null, rules: identity.rules, builtin: false, isActive: true, createdAt: now, updatedAt: now },
        tx,
      );
      await policies.insertBinding(
        { id: newId("bnd"), policyId, partnerId: "ptn_default", tenantId, identityType: identity.type === "system" ? "user" : identity.type, identityId: identity.id, expiresAt: null, createdAt: now },
        tx,
      );
      await policies.bumpEpoch(tx);
    }
    return tokens.issue(
      { partnerId: "ptn_default", tenantId, identityId: identity.id, identityType: identity.type, scopes: identity.scopes, roles: identity.roles ?? [], description: "audit test", createdBy: "user:admin", expiresAt: null },
      tx,
    );
  });
  return new ApiClient(t.baseUrl, issued.token);
}

/**
 * The vault's checkpoint signer and store, built from its own keyring (the same wrapped key), so a
 * test can make checkpoints at a moment of its choosing instead of racing the periodic job.
 */
export async function checkpointsOf(t: TestVault): Promise<Checkpoints> {
  const keyring = new Keyring(t.vault.db, new LocalRootKey(t.vault.config.kms.localKey!));
  return new Checkpoints(t.vault.db, new CheckpointSigner(await keyring.systemKey("audit-checkpoint-ed25519")));
}

/** An entry a test puts straight into the trail: what it says; the rest is the same for every entry. */
export interface FixtureEntry {
  id: string;
  timestamp: number;
  identity_id: string | null;
  secret_path: string | null;
  /** Default tnt_default; null is the partner's own chain. */
  tenant_id?: string | null;
  action?: string;
  /** Default service_account. */
  identity_type?: string | null;
  success?: number;
  status?: number;
  extra_data?: string;
}

const FIXTURE_COLUMNS = ["id", "chain_id", "seq", "partner_id", "tenant_id", "timestamp", "action", "identity_type", "identity_id", "secret_path", "source_ip", "user_agent", "success", "status", "duration_ms", "request_id", "extra_data", "prev_hash", "hash"];

/**
 * Puts `entries` straight into audit_log (partner ptn_default) on a chain of their own,
 * `filler:<chain>`, which has no head: as if written long ago, outside every real chain (pruning
 * and the checkpoints leave it alone). 200 rows per statement.
 */
export async function insertEntries(db: Queryable, chain: string, entries: FixtureEntry[]): Promise<void> {
  for (let start = 0; start < entries.length; start += 200) {
    const part = entries.slice(start, start + 200);
    const params = part.flatMap((e, k) => [
      e.id, `filler:${chain}`, start + k + 1, "ptn_default", e.tenant_id === undefined ? "tnt_default" : e.tenant_id, e.timestamp, e.action ?? "read",
      e.identity_type === undefined ? "service_account" : e.identity_type, e.identity_id, e.secret_path, "10.0.0.1", "test", e.success ?? 1, e.status ?? 200, 1, `req_${e.id}`,
      e.extra_data ?? "{}", "0".repeat(64), "0".repeat(64),
    ]);
    await db.run(`INSERT INTO audit_log (${FIXTURE_COLUMNS.join(", ")}) VALUES ${part.map(() => `(${FIXTURE_COLUMNS.map(() => "?").join(", ")})`).join(", ")}`, params);
    // A batch read's named paths, as the writer adds them (mentions.ts).
    await insertMentions(db, part.map((e) => {
      const row = {
        id: e.id, partner_id: "ptn_default", tenant_id: e.tenant_id === undefined ? "tnt_default" : e.tenant_id, timestamp: e.timestamp, action: e.action ?? "read",
        identity_type: e.identity_type === undefined ? "service_account" : e.identity_type, identity_id: e.identity_id, success: e.success ?? 1, status: e.status ?? 200,
      };
      return { ...row, mentions: mentionsOf({ secretPath: e.secret_path, action: row.action, extraData: JSON.parse(e.extra_data ?? "{}") as Record<string, unknown> }) };
    }));
  }
}

/** The summaries' counting over the vault's database, run when a test says (the periodic job waits its 10-minute interval). */
export function rollupsOf(t: TestVault, options: { sqlitePiece?: number; trialEntries?: number } = {}): AuditRollups {
  return new AuditRollups(t.vault.db, 1, options);
}

/** The vault's retention and pruning over its own database and keys, with settings of the test's choosing. */
export async function retentionOf(t: TestVault, settings: Partial<RetentionSettings> = {}): Promise<AuditRetention> {
  const checkpoints = await checkpointsOf(t);
  // Pruning never writes audit entries, so it needs no recorder of its own.
  return new AuditRetention({ db: t.vault.db, audit: null as never, checkpoints, rollups: rollupsOf(t) }, { minRetentionDays: 0, retentionReductionDelayMs: 0, pruneIntervalMs: 1, pruneBatch: 3, ...settings });
}

/**
 * The export's state once `until` holds (default: completed or failed), polled every 50 ms for at
 * most a minute; an export that never gets there fails the test by name.
 */
export async function exportSettled(client: ApiClient, id: string, until: (status: string) => boolean = (s) => s === "completed" || s === "failed") {
  for (let i = 0; i < 1200; i++) {
    const response = await client.get(`/v1/audit/exports/${id}`);
    if (until(response.body.status)) return response.body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`export ${id} did not reach the awaited state`);
}
