import type { Caller } from "../http/context.js";
import { validationError, VaultError } from "../http/errors.js";
import { decodeCursor, encodeCursor } from "../shared/cursor.js";
import { requireDuration } from "../shared/duration.js";
import { iso, isoOrNull } from "../shared/time.js";
import { markCrlStale, type CaService } from "./ca-service.js";
import { eventBase, jsonList, REVOCATION_REASONS, requireReader, type PkiDeps } from "./common.js";
import type { CertRow } from "./store.js";

export interface CertListQuery {
  ca_id?: string;
  role?: string;
  source?: string;
  expiring_within?: string;
  include_revoked?: boolean;
  limit?: number;
  cursor?: string;
}

export function certView(row: CertRow) {
  return {
    id: row.id, serial_number: row.serial_number, common_name: row.common_name, alt_names: jsonList(row.alt_names), ip_sans: jsonList(row.ip_sans), source: row.source,
    ca_id: row.ca_id, role: row.role, order_id: row.order_id, not_before: iso(row.not_before), not_after: iso(row.not_after), revoked_at: isoOrNull(row.revoked_at),
    revocation_reason: row.revocation_reason, secret_path: row.secret_path, created_by: row.created_by,
  };
}

/** Issued certificates: list, read, PEM, revoke. Never a private key. */
export class CertificateService {
  /**
   * Revokes an ACME certificate at the CA that issued it (contract P4), set by the ACME module;
   * the local record is revoked only once the CA has (or already had) revoked it.
   */
  revokeAtIssuer: ((row: CertRow, reason: string) => Promise<void>) | null = null;

  constructor(private readonly deps: PkiDeps, private readonly cas: CaService) {}

  private async require(caller: Caller, idOrSerial: string): Promise<CertRow> {
    const { onlyCreatedBy } = requireReader(caller);
    const row = await this.deps.store.getCert(caller.tenant.tenantId, idOrSerial);
    if (!row || (onlyCreatedBy !== null && row.created_by !== onlyCreatedBy)) {
      throw new VaultError("certificate_not_found", "No certificate with this id or serial number in this tenant", { details: { id: idOrSerial } });
    }
    caller.ctx.audit.extra = { certificate_id: row.id, serial_number: row.serial_number, ca_id: row.ca_id };
    return row;
  }

  async list(caller: Caller, query: CertListQuery) {
    const { onlyCreatedBy } = requireReader(caller);
    const limit = query.limit ?? 100;
    const after = decodeCursor<{ id: string }>(query.cursor, { id: "string" });
    const expiringBefore = query.expiring_within ? Date.now() + requireDuration("expiring_within", query.expiring_within) * 1000 : undefined;
    const page = await this.deps.store.listCerts(caller.tenant.tenantId, {
      caId: query.ca_id, role: query.role, source: query.source, expiringBefore, includeRevoked: query.include_revoked ?? false, createdBy: onlyCreatedBy ?? undefined, after: after?.id,
    }, limit);
    return { data: page.rows.map(certView), cursor: page.next === null ? null : encodeCursor({ id: page.next }), has_more: page.next !== null };
  }

  async get(caller: Caller, idOrSerial: string) {
    const row = await this.require(caller, idOrSerial);
    // An ACME certificate has no CA of ours: its chain is the one its CA sent (src/pki/acme).
    if (row.source === "acme") {
      const chain = ((row as CertRow & { chain_pem?: string | null }).chain_pem ?? "").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
      return { ...certView(row), certificate: row.certificate_pem, ca_chain: chain };
    }
    const ca = await this.cas.require(caller.tenant.tenantId, row.ca_id);
    return { ...certView(row), certificate: row.certificate_pem, ca_chain: [ca.certificate_pem.trim(), ...(await this.cas.chainOf(ca))] };
  }

  /** Leaf then chain, as a server would present them. */
  async pem(caller: Caller, idOrSerial: string): Promise<string> {
    const full = await this.get(caller, idOrSerial);
    return [full.certificate.trim(), ...full.ca_chain].join("\n") + "\n";
  }

  /** Idempotent: a revoked certificate answers as it is. The issuer's CRL lists it from the next request on. */
  async revoke(caller: Caller, idOrSerial: string, reason: string | undefined) {
    const why = reason ?? "unspecified";
    if (!(why in REVOCATION_REASONS)) throw validationError({ reason: `must be one of ${Object.keys(REVOCATION_REASONS).join(", ")}` });
    const found = await this.require(caller, idOrSerial);
    if (found.source === "acme" && found.revoked_at === null) {
      if (!this.revokeAtIssuer) throw new VaultError("service_unavailable", "ACME certificates cannot be revoked on this node", { retryAfterSeconds: 1 });
      await this.revokeAtIssuer(found, why);
    }
    return this.deps.secrets.mutate(caller, () => 200, async (tx, emit) => {
      const row = (await this.deps.store.getCert(caller.tenant.tenantId, found.id, tx))!;
      if (row.revoked_at !== null) return certView(row);
      const now = Date.now();
      await this.deps.store.revokeCert(tx, row.id, now, why);
      await markCrlStale(tx, row.ca_id);
      await emit({ ...eventBase(caller, row.secret_path), event_type: "certificate.revoked", data: { certificate_id: row.id, serial_number: row.serial_number, common_name: row.common_name, ca_id: row.ca_id, role: row.role, reason: why } });
      return certView({ ...row, revoked_at: now, revocation_reason: why });
    });
  }
}
