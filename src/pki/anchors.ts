import { createHash } from "node:crypto";
import type { Caller } from "../http/context.js";
import { quotaExceeded, VaultError } from "../http/errors.js";
import { iso } from "../shared/time.js";
import { isUniqueViolation, type Queryable } from "../storage/contract.js";
import { heldInTenantTurn } from "../storage/tenant-lock.js";
import { isActive } from "./ca-service.js";
import { newPkiId, requireReader, type PkiDeps } from "./common.js";
import { x509 } from "./x509.js";

interface AnchorRow {
  id: string;
  tenant_id: string;
  partner_id: string;
  name: string;
  description: string | null;
  certificate_pem: string;
  subject: string;
  issuer: string;
  serial_number: string;
  fingerprint_sha256: string;
  not_before: number;
  not_after: number;
  created_at: number;
}

const COLUMNS = ["id", "tenant_id", "partner_id", "name", "description", "certificate_pem", "subject", "issuer", "serial_number", "fingerprint_sha256", "not_before", "not_after", "created_at"] as const;
const LISTED = COLUMNS.filter((column) => column !== "certificate_pem");
const ANCHOR_CREATION_LOCK = 7_305_211;

function view(row: AnchorRow) {
  return {
    id: row.id, name: row.name, description: row.description, subject: row.subject, issuer: row.issuer, serial_number: row.serial_number,
    fingerprint_sha256: row.fingerprint_sha256, not_before: iso(Number(row.not_before)), not_after: iso(Number(row.not_after)), created_at: iso(Number(row.created_at)),
  };
}

/** A CA certificate (basicConstraints CA:true) or `invalid_certificate`. */
function parseCaCertificate(pem: string): x509.X509Certificate {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(pem);
  } catch {
    throw new VaultError("invalid_certificate", "certificate_pem is not a PEM or DER X.509 certificate");
  }
  const constraints = cert.getExtension(x509.BasicConstraintsExtension);
  if (!constraints?.ca) throw new VaultError("invalid_certificate", "A trust anchor must be a CA certificate (basicConstraints CA:true)");
  return cert;
}

/** External CAs the tenant chooses to trust, and the trust bundle of everything trusted (contract P5). */
export class TrustAnchors {
  constructor(private readonly deps: PkiDeps) {}

  private async find(caller: Caller, id: string): Promise<AnchorRow> {
    const row = await this.deps.db.get<AnchorRow>("SELECT * FROM pki_trust_anchors WHERE tenant_id = ? AND id = ?", [caller.tenant.tenantId, id]);
    if (!row) throw new VaultError("trust_anchor_not_found", "No trust anchor with this id in this tenant", { details: { id } });
    return row;
  }

  async create(caller: Caller, body: { name: string; certificate_pem: string; description?: string }) {
    const cert = parseCaCertificate(body.certificate_pem);
    const row: AnchorRow = {
      id: newPkiId("ta"), tenant_id: caller.tenant.tenantId, partner_id: caller.tenant.partnerId, name: body.name, description: body.description ?? null,
      certificate_pem: cert.toString("pem"), subject: cert.subject, issuer: cert.issuer, serial_number: cert.serialNumber.toLowerCase(),
      fingerprint_sha256: createHash("sha256").update(Buffer.from(cert.rawData)).digest("hex"), not_before: cert.notBefore.getTime(), not_after: cert.notAfter.getTime(), created_at: Date.now(),
    };
    caller.ctx.audit.extra = { trust_anchor_id: row.id, name: row.name };
    try {
      await this.deps.secrets.mutate(caller, () => 201, async (tx) => {
        await this.requireRoom(tx, row.tenant_id);
        if (await tx.get("SELECT id FROM pki_trust_anchors WHERE tenant_id = ? AND name = ?", [row.tenant_id, row.name])) throw new VaultError("already_exists", `A trust anchor named ${row.name} already exists`, { details: { name: row.name } });
        await tx.run(`INSERT INTO pki_trust_anchors (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")})`, COLUMNS.map((c) => row[c]));
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new VaultError("already_exists", `A trust anchor named ${row.name} already exists`, { details: { name: row.name } });
      throw error;
    }
    return view(row);
  }

  /**
   * A tenant holds at most SCAIVAULT_MAX_TRUST_ANCHORS_PER_TENANT anchors: the trust bundle, readable
   * with `pki:issue`, carries every one of them (1,000 anchors of 60 KB made it 60 MB per request,
   * the loop held 250–315 ms). Counted in the creating transaction, the tenant's creations taking
   * turns, so two at once cannot both take the last place.
   */
  private async requireRoom(tx: Queryable, tenantId: string): Promise<void> {
    const limit = this.deps.config.maxTrustAnchorsPerTenant;
    const held = await heldInTenantTurn(tx, this.deps.db.dialect, ANCHOR_CREATION_LOCK, tenantId, "SELECT COUNT(*) AS n FROM pki_trust_anchors WHERE tenant_id = ?", [tenantId]);
    if (held >= limit) throw quotaExceeded("trust_anchors", "tenant", limit, "delete one it no longer trusts", "trust anchors");
  }

  /** Without the certificates: the list shows what each anchor is, `get` its PEM. */
  async list(caller: Caller) {
    const rows = await this.deps.db.all<AnchorRow>(`SELECT ${LISTED.join(", ")} FROM pki_trust_anchors WHERE tenant_id = ? ORDER BY name`, [caller.tenant.tenantId]);
    return { data: rows.map(view) };
  }

  async get(caller: Caller, id: string) {
    caller.ctx.audit.extra = { trust_anchor_id: id };
    const row = await this.find(caller, id);
    return { ...view(row), certificate_pem: row.certificate_pem };
  }

  async delete(caller: Caller, id: string): Promise<void> {
    caller.ctx.audit.extra = { trust_anchor_id: id };
    await this.deps.secrets.mutate(caller, () => 204, async (tx) => {
      const gone = await tx.run("DELETE FROM pki_trust_anchors WHERE tenant_id = ? AND id = ?", [caller.tenant.tenantId, id]);
      if (gone.changes === 0) throw new VaultError("trust_anchor_not_found", "No trust anchor with this id in this tenant", { details: { id } });
    });
  }

  /** PEM of the tenant's active CAs, then its anchors. */
  async bundle(caller: Caller): Promise<string> {
    requireReader(caller);
    const now = Date.now();
    const cas = (await this.deps.store.listCas(caller.tenant.tenantId)).filter((ca) => isActive(ca, now)).map((ca) => ca.certificate_pem.trim());
    const anchors = (await this.deps.db.all<{ certificate_pem: string }>("SELECT certificate_pem FROM pki_trust_anchors WHERE tenant_id = ? ORDER BY name", [caller.tenant.tenantId])).map((a) => a.certificate_pem.trim());
    const all = [...cas, ...anchors];
    return all.length ? `${all.join("\n")}\n` : "";
  }
}
