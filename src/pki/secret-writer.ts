import type { Caller } from "../http/context.js";
import { VaultError } from "../http/errors.js";
import { systemCaller } from "../rotation/actor.js";
import type { Emit } from "../secrets/service.js";
import type { SecretRow } from "../secrets/store.js";
import { normalizeMetadata } from "../secrets/view.js";
import { iso } from "../shared/time.js";
import type { Queryable } from "../storage/contract.js";
import { PKI_IDENTITY, type PkiDeps } from "./common.js";

export interface CertificateSecret {
  cert_pem: string;
  key_pem: string;
  chain_pem: string;
}

/**
 * Writes `{cert_pem, key_pem, chain_pem}` as a `certificate` secret inside the issuing transaction,
 * through the secrets service's own encryption and versioning, authored by `system:pki` (contract
 * P4): existing readers, events and SDK caches see it as any other secret. The caller's right to
 * write the path was checked before the certificate was minted.
 */
export async function writeCertificateSecret(deps: PkiDeps, tx: Queryable, on: Caller, path: string, data: CertificateSecret, emit: Emit, identity = PKI_IDENTITY): Promise<void> {
  const actor = systemCaller(identity, on.tenant.tenantId, on.tenant.partnerId);
  // Events carry the request that caused them.
  const caller: Caller = { ...actor, requestId: on.requestId };
  const existing = await deps.secretStore.lock(tx, on.tenant.tenantId, path);
  if (existing && existing.deleted_at !== null) {
    throw new VaultError("secret_exists", "A deleted secret is still at this path: undelete it or delete it permanently first", { details: { path } });
  }
  if (existing) {
    await deps.secrets.appendVersion(tx, caller, { ...existing, secret_type: "certificate" }, data as unknown as Record<string, unknown>, emit, false);
    return;
  }
  const now = Date.now();
  const row: SecretRow = {
    tenant_id: on.tenant.tenantId, path, partner_id: on.tenant.partnerId, secret_type: "certificate", metadata: JSON.stringify(normalizeMetadata(undefined)),
    max_versions: 10, expires_in: null, expires_at: null, notify_before: null, rotation_policy_id: null, secret_policy_id: null, current_version: 1,
    created_at: now, created_by: identity, updated_at: now, last_accessed_at: null, deleted_at: null, recoverable_until: null,
  };
  const plaintext = Buffer.from(JSON.stringify(data), "utf8");
  try {
    await deps.secrets.storeVersion(tx, row, plaintext, identity, now, false);
  } finally {
    plaintext.fill(0);
  }
  await deps.secretStore.insert(tx, row);
  await emit({
    tenant_id: on.tenant.tenantId, partner_id: on.tenant.partnerId, identity_id: identity, path, request_id: on.requestId,
    event_type: "secret.created", data: { version: 1, secret_type: "certificate", created_by: identity, tags: [], expires_at: row.expires_at ? iso(row.expires_at) : null },
  });
}
