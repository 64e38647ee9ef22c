import { scopesAllow } from "../access/scopes.js";
import type { Authorizer } from "../access/authorizer.js";
import type { AuditRecorder } from "../audit/recorder.js";
import type { ExpensiveWork } from "../crypto/expensive-work.js";
import type { Keyring } from "../crypto/keyring.js";
import type { EventOutbox, NewEvent } from "../events/outbox.js";
import { abandonmentOf } from "../http/abandonment.js";
import type { Caller } from "../http/context.js";
import { VaultError } from "../http/errors.js";
import type { SecretsService } from "../secrets/service.js";
import type { SecretStore } from "../secrets/store.js";
import { randomBase62 } from "../shared/ids.js";
import { decodeCursor, encodeCursor } from "../shared/cursor.js";
import { boundedPage, type Condition } from "../storage/bounded-page.js";
import type { Database } from "../storage/contract.js";
import type { PkiStore } from "./store.js";
import { generateKeyPair, type KeySpec } from "./x509.js";

export interface PkiConfig {
  baseUrl: string | null;
  crlLifetimeMs: number;
  notifyBeforeMs: number[];
  csrTtlMs: number;
  acmeConcurrency: number;
  maxOpenAcmeOrdersPerTenant: number;
  maxTrustAnchorsPerTenant: number;
  maxCasPerTenant: number;
}

export interface PkiDeps {
  db: Database;
  store: PkiStore;
  keyring: Keyring;
  authorizer: Authorizer;
  audit: AuditRecorder;
  events: EventOutbox;
  secrets: SecretsService;
  secretStore: SecretStore;
  config: PkiConfig;
  expensive: ExpensiveWork;
}

/** A key pair for `spec`: an RSA one in the tenant's turn at the node's generation gate (EC keys take microseconds). */
export function keyPairFor(deps: PkiDeps, caller: Caller, spec: KeySpec): Promise<CryptoKeyPair> {
  return spec.type === "rsa" ? deps.expensive.forTenant(caller.tenant.tenantId, abandonmentOf(caller)).inTurn(() => generateKeyPair(spec)) : generateKeyPair(spec);
}

export const PKI_IDENTITY = "system:pki";
export const NAME_PATTERN = "^[a-z0-9][a-z0-9._-]{0,62}$";

/** Ids of the contract's shapes (`ca_`, `cert_`, `csr_`, `ta_`): random, as every other id. */
export function newPkiId(prefix: "ca" | "cert" | "csr" | "ta"): string {
  return `${prefix}_${randomBase62(20)}`;
}

/**
 * One page of a list in submission order (CSRs, ACME orders): `(created_at, id)` along `index`,
 * whose leading columns `scope` fills; `filters` are checked on a bounded walk of it (short pages
 * when they match little). The contract's list shape (SPEC §1), 100 by default.
 */
export async function submissionPage<Row extends { created_at: number | string; id: string }, View>(
  db: Database,
  spec: { table: string; index: string; scope: Condition[]; filters: Condition[] },
  query: { limit?: number; cursor?: string },
  view: (row: Row) => View,
): Promise<{ data: View[]; cursor: string | null; has_more: boolean }> {
  const after = decodeCursor<{ t: number; id: string }>(query.cursor, { t: "number", id: "string" });
  const page = await boundedPage<Row>(db, {
    ...spec, columns: "*", order: ["created_at", "id"], descending: false, after: after ? [after.t, after.id] : null, limit: query.limit ?? 100,
  });
  const next = page.next === null ? null : encodeCursor({ t: Number(page.next[0]), id: String(page.next[1]) });
  return { data: page.rows.map(view), cursor: next, has_more: next !== null };
}

export function isPkiAdmin(caller: Caller): boolean {
  return scopesAllow(caller.principal.scopes, "pki:admin");
}

/** Reads: `pki:admin` sees everything in the tenant; `pki:issue` only what it created (contract P1). */
export function requireReader(caller: Caller): { onlyCreatedBy: string | null } {
  if (isPkiAdmin(caller)) return { onlyCreatedBy: null };
  if (scopesAllow(caller.principal.scopes, "pki:issue")) return { onlyCreatedBy: caller.principal.identityId };
  throw new VaultError("insufficient_scope", "This token lacks the pki:admin or pki:issue scope", { details: { required_scope: "pki:admin" } });
}

/** Issuing under a role needs `write` on the reserved path `sys/pki/<role>` (contract P1). */
export async function requireRolePolicy(deps: PkiDeps, caller: Caller, role: string): Promise<void> {
  await deps.authorizer.require(caller, `sys/pki/${role}`, "write");
}

export function eventBase(caller: Caller, path: string | null): Pick<NewEvent, "tenant_id" | "partner_id" | "identity_id" | "path" | "request_id"> {
  return { tenant_id: caller.tenant.tenantId, partner_id: caller.tenant.partnerId, identity_id: caller.principal.identityId, path, request_id: caller.requestId };
}

/** RFC 5280 reason codes in snake_case, with their CRLReason numbers. */
export const REVOCATION_REASONS: Record<string, number> = {
  unspecified: 0,
  key_compromise: 1,
  ca_compromise: 2,
  affiliation_changed: 3,
  superseded: 4,
  cessation_of_operation: 5,
  certificate_hold: 6,
  privilege_withdrawn: 9,
  aa_compromise: 10,
};

export function jsonList(text: string): string[] {
  return JSON.parse(text) as string[];
}
