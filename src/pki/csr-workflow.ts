import type { Caller } from "../http/context.js";
import { VaultError } from "../http/errors.js";
import { iso } from "../shared/time.js";
import type { Queryable } from "../storage/contract.js";
import type { CaService } from "./ca-service.js";
import type { Condition } from "../storage/bounded-page.js";
import { eventBase, jsonList, newPkiId, requireReader, requireRolePolicy, submissionPage, type PkiDeps } from "./common.js";
import { parseCsr, requireKeyAllowed } from "./csr.js";
import { namesForCsr, type IssueService } from "./issue.js";
import type { RoleService } from "./roles.js";

interface CsrRow {
  id: string;
  tenant_id: string;
  partner_id: string;
  role: string;
  csr_pem: string;
  state: "pending" | "signed" | "rejected";
  common_name: string | null;
  alt_names: string;
  ip_sans: string;
  key_type: string;
  ttl: string | null;
  comment: string | null;
  requested_by: string;
  decided_by: string | null;
  reason: string | null;
  certificate_id: string | null;
  created_at: number;
  updated_at: number;
}

const COLUMNS = ["id", "tenant_id", "partner_id", "role", "csr_pem", "state", "common_name", "alt_names", "ip_sans", "key_type", "ttl", "comment", "requested_by", "decided_by", "reason", "certificate_id", "created_at", "updated_at"] as const;

/** A pending CSR submitted at or before this moment is `expired`: nobody reviewed it within SCAIVAULT_PKI_CSR_TTL. */
function expiredAtOrBefore(config: PkiDeps["config"], now = Date.now()): number {
  return now - config.csrTtlMs;
}

/**
 * `expired` is derived, never stored: the row stays `pending` and reads as expired once its time is
 * past, so no job has to flip rows (and no node has to be up for it to happen on time).
 */
function stateOf(row: CsrRow, expiredBefore: number): CsrRow["state"] | "expired" {
  return row.state === "pending" && Number(row.created_at) <= expiredBefore ? "expired" : row.state;
}

function view(row: CsrRow, expiredBefore: number) {
  return {
    id: row.id, state: stateOf(row, expiredBefore), role: row.role, common_name: row.common_name, alt_names: jsonList(row.alt_names), ip_sans: jsonList(row.ip_sans), key_type: row.key_type,
    requested_by: row.requested_by, comment: row.comment, created_at: iso(Number(row.created_at)), certificate_id: row.certificate_id,
    approved_by: row.state === "signed" ? row.decided_by : null, rejected_by: row.state === "rejected" ? row.decided_by : null, reason: row.reason,
  };
}

function notPending(state: string): VaultError {
  return new VaultError("csr_not_pending", `The CSR is ${state}, not pending`, { details: { state } });
}

function requirePending(row: CsrRow, expiredBefore: number): void {
  const state = stateOf(row, expiredBefore);
  if (state !== "pending") throw notPending(state);
}

/**
 * Submit → approve (signed) or reject (contract P5); the request is checked against its role at
 * submission and again at approval. One left pending for SCAIVAULT_PKI_CSR_TTL is `expired` (**ext**):
 * a review queue that `pki:issue` callers fill at 50 a minute must not keep what nobody looked at
 * for ever, and credential retention prunes expired and decided ones a window later (`endedSubmissions`, retention.ts).
 */
export class CsrWorkflow {
  constructor(private readonly deps: PkiDeps, private readonly cas: CaService, private readonly roles: RoleService, private readonly issue: IssueService) {}

  private async find(caller: Caller, id: string, tx?: Queryable): Promise<CsrRow> {
    const lock = tx && this.deps.db.dialect === "postgres" ? " FOR UPDATE" : "";
    const row = await (tx ?? this.deps.db).get<CsrRow>(`SELECT * FROM pki_csrs WHERE tenant_id = ? AND id = ?${lock}`, [caller.tenant.tenantId, id]);
    if (!row) throw new VaultError("csr_not_found", "No CSR with this id in this tenant", { details: { id } });
    return row;
  }

  async submit(caller: Caller, body: { csr_pem: string; role: string; ttl?: string; comment?: string }) {
    caller.ctx.audit.extra = { role: body.role };
    await requireRolePolicy(this.deps, caller, body.role);
    const role = await this.roles.require(caller.tenant.tenantId, body.role);
    const parsed = await parseCsr(body.csr_pem);
    requireKeyAllowed(role, parsed.key);
    const names = namesForCsr(role, parsed, {});
    const now = Date.now();
    const row: CsrRow = {
      id: newPkiId("csr"), tenant_id: caller.tenant.tenantId, partner_id: caller.tenant.partnerId, role: role.name, csr_pem: body.csr_pem, state: "pending",
      common_name: names.commonName, alt_names: JSON.stringify(names.dnsNames), ip_sans: JSON.stringify(names.ipSans), key_type: parsed.key.type, ttl: body.ttl ?? null,
      comment: body.comment ?? null, requested_by: caller.principal.identityId, decided_by: null, reason: null, certificate_id: null, created_at: now, updated_at: now,
    };
    caller.ctx.audit.extra = { role: role.name, csr_id: row.id };
    await this.deps.secrets.mutate(caller, () => 201, async (tx, emit) => {
      await tx.run(`INSERT INTO pki_csrs (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")})`, COLUMNS.map((c) => row[c]));
      await emit({ ...eventBase(caller, null), event_type: "csr.submitted", data: { csr_id: row.id, role: row.role, common_name: row.common_name, alt_names: names.dnsNames, requested_by: row.requested_by } });
    });
    return view(row, expiredAtOrBefore(this.deps.config, now));
  }

  /** Oldest first (a review queue), a page at a time along the index its state filter has. */
  async list(caller: Caller, query: { state?: string; limit?: number; cursor?: string }) {
    const { onlyCreatedBy } = requireReader(caller);
    const expiredBefore = expiredAtOrBefore(this.deps.config);
    const tenant: Condition = { sql: "tenant_id = ?", params: [caller.tenant.tenantId] };
    const [index, scope]: [string, Condition[]] = query.state ? ["pki_csrs_state_list", [tenant, ...stateScope(query.state, expiredBefore)]] : ["pki_csrs_list", [tenant]];
    const filters: Condition[] = onlyCreatedBy ? [{ sql: "requested_by = ?", params: [onlyCreatedBy] }] : [];
    return submissionPage(this.deps.db, { table: "pki_csrs", index, scope, filters }, query, (row: CsrRow) => view(row, expiredBefore));
  }

  async get(caller: Caller, id: string) {
    const { onlyCreatedBy } = requireReader(caller);
    const row = await this.find(caller, id);
    if (onlyCreatedBy && row.requested_by !== onlyCreatedBy) throw new VaultError("csr_not_found", "No CSR with this id in this tenant", { details: { id } });
    caller.ctx.audit.extra = { csr_id: id, role: row.role };
    const shown = view(row, expiredAtOrBefore(this.deps.config));
    if (!row.certificate_id) return shown;
    const cert = await this.deps.store.getCert(caller.tenant.tenantId, row.certificate_id);
    const ca = cert ? await this.cas.require(caller.tenant.tenantId, cert.ca_id) : null;
    return { ...shown, certificate: cert?.certificate_pem, ca_chain: ca ? [ca.certificate_pem.trim(), ...(await this.cas.chainOf(ca))] : [] };
  }

  /** Signs under the role as it is now; the state change commits with the certificate, so two approvals cannot both sign. */
  async approve(caller: Caller, id: string, ttl: string | undefined) {
    caller.ctx.audit.extra = { csr_id: id };
    const row = await this.find(caller, id);
    const expiredBefore = expiredAtOrBefore(this.deps.config);
    requirePending(row, expiredBefore);
    const role = await this.roles.require(caller.tenant.tenantId, row.role);
    const parsed = await parseCsr(row.csr_pem);
    requireKeyAllowed(role, parsed.key);
    const names = namesForCsr(role, parsed, {});
    const minted = await this.issue.mint(caller, { role, names, publicKey: parsed.csr.publicKey, keyType: parsed.key.type, ttl: ttl ?? row.ttl ?? undefined, source: "csr" }, null, async (tx, cert, emit) => {
      const changed = await tx.run("UPDATE pki_csrs SET state = 'signed', decided_by = ?, certificate_id = ?, updated_at = ? WHERE id = ? AND state = 'pending'", [caller.principal.identityId, cert.id, Date.now(), id]);
      if (changed.changes === 0) throw notPending((await this.find(caller, id, tx)).state);
      await emit({ ...eventBase(caller, null), event_type: "csr.approved", data: { csr_id: id, role: role.name, certificate_id: cert.id, serial_number: cert.serial_number, approved_by: caller.principal.identityId } });
    });
    caller.ctx.audit.extra = { ...caller.ctx.audit.extra, csr_id: id };
    return { ...view({ ...row, state: "signed", decided_by: caller.principal.identityId, certificate_id: minted.row.id }, expiredBefore), certificate: minted.certificate, ca_chain: minted.caChain };
  }

  async reject(caller: Caller, id: string, reason: string | undefined) {
    caller.ctx.audit.extra = { csr_id: id };
    return this.deps.secrets.mutate(caller, () => 200, async (tx, emit) => {
      const row = await this.find(caller, id, tx);
      const expiredBefore = expiredAtOrBefore(this.deps.config);
      requirePending(row, expiredBefore);
      await tx.run("UPDATE pki_csrs SET state = 'rejected', decided_by = ?, reason = ?, updated_at = ? WHERE id = ?", [caller.principal.identityId, reason ?? null, Date.now(), id]);
      await emit({ ...eventBase(caller, null), event_type: "csr.rejected", data: { csr_id: id, role: row.role, rejected_by: caller.principal.identityId, reason: reason ?? null } });
      return view({ ...row, state: "rejected", decided_by: caller.principal.identityId, reason: reason ?? null }, expiredBefore);
    });
  }
}

/**
 * The index range a `?state=` list walks: `pending` starts after the expired ones (a range on
 * `created_at`, so the walk never reads the expired backlog), `expired` is the pending ones before it.
 */
function stateScope(state: string, expiredBefore: number): Condition[] {
  if (state === "pending") return [{ sql: "state = 'pending'", params: [] }, { sql: "created_at > ?", params: [expiredBefore] }];
  if (state === "expired") return [{ sql: "state = 'pending'", params: [] }, { sql: "created_at <= ?", params: [expiredBefore] }];
  return [{ sql: "state = ?", params: [state] }];
}
