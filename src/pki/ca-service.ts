import type { Caller } from "../http/context.js";
import { quotaExceeded, validationError, VaultError } from "../http/errors.js";
import type { Emit } from "../secrets/service.js";
import { iso, isoOrNull } from "../shared/time.js";
import { isUniqueViolation, type Queryable } from "../storage/contract.js";
import { heldInTenantTurn } from "../storage/tenant-lock.js";
import { eventBase, keyPairFor, newPkiId, REVOCATION_REASONS, type PkiDeps } from "./common.js";
import { openCaKey, sealCaKey } from "./keys.js";
import type { CaRow } from "./store.js";
import { createCaCertificate, exportPkcs8, importSigningKey, newSerial, parseCertificate, x509, type KeySpec } from "./x509.js";
import { LruMap } from "../shared/lru.js";

const DAY_MS = 86_400_000;
const CA_CREATION_LOCK = 7_305_212;
export const BACKDATE_MS = 30_000;

export interface CreateCaBody {
  name: string;
  common_name: string;
  ca_type: "root" | "intermediate";
  parent_ca_id?: string;
  key_type?: "rsa" | "ec";
  key_size?: number;
  validity_days?: number;
}

export interface Signer {
  ca: CaRow;
  certificate: x509.X509Certificate;
  key: CryptoKey;
  spec: KeySpec;
}

export function caView(row: CaRow & { certificates_issued?: number }) {
  return {
    id: row.id,
    name: row.name,
    common_name: row.common_name,
    ca_type: row.ca_type,
    parent_ca_id: row.parent_ca_id,
    key_type: row.key_type,
    key_size: row.key_size,
    serial_number: row.serial_number,
    valid_from: iso(row.not_before),
    valid_until: iso(row.not_after),
    is_active: isActive(row, Date.now()),
    revoked_at: isoOrNull(row.revoked_at),
    certificates_issued: Number(row.certificates_issued ?? 0),
    created_at: iso(row.created_at),
  };
}

export function isActive(row: CaRow, now: number): boolean {
  return row.revoked_at === null && row.not_after > now;
}

export function requireActive(row: CaRow): void {
  if (!isActive(row, Date.now())) {
    throw new VaultError("ca_inactive", row.revoked_at !== null ? "The issuing CA is revoked" : "The issuing CA has expired", { details: { ca_id: row.id } });
  }
}

function keySpecOf(body: CreateCaBody): KeySpec {
  const type = body.key_type ?? "rsa";
  const bits = body.key_size ?? (type === "rsa" ? 2048 : 256);
  const allowed = type === "rsa" ? [2048, 4096] : [256, 384];
  if (!allowed.includes(bits)) throw validationError({ key_size: `must be one of ${allowed.join(", ")} for ${type} keys` });
  return { type, bits };
}

/** Certificate authorities: creation, the chain, revocation with its cascade, and the signing key. */
export class CaService {
  // Imported (non-extractable) signing keys by CA id: unsealing on every issue would cost a KMS round.
  private readonly keys = new LruMap<string, CryptoKey>(1_000);

  constructor(private readonly deps: PkiDeps) {}

  async create(caller: Caller, body: CreateCaBody) {
    const spec = keySpecOf(body);
    if (body.ca_type === "intermediate" && !body.parent_ca_id) throw validationError({ parent_ca_id: "is required for an intermediate CA" });
    if (body.ca_type === "root" && body.parent_ca_id) throw validationError({ parent_ca_id: "must be absent for a root CA" });
    const validityDays = body.validity_days ?? (body.ca_type === "root" ? 3650 : 1825);
    const parent = body.parent_ca_id ? await this.signer(caller.tenant.tenantId, body.parent_ca_id) : null;
    if (parent) requireActive(parent.ca);

    const now = Date.now();
    const notBefore = now - BACKDATE_MS;
    // Validity is truncated to the issuer's (ext): a chain never outlives its parent.
    const notAfter = Math.min(now + validityDays * DAY_MS, parent ? parent.ca.not_after : Number.MAX_SAFE_INTEGER);
    const keys = await keyPairFor(this.deps, caller, spec);
    const serial = newSerial();
    const certificate = await createCaCertificate({
      subjectCn: body.common_name,
      publicKey: keys.publicKey,
      serial,
      notBefore: new Date(notBefore),
      notAfter: new Date(notAfter),
      issuer: parent ? { certificate: parent.certificate, key: parent.key, spec: parent.spec } : undefined,
      selfKey: keys.privateKey,
      selfSpec: spec,
    });
    const id = newPkiId("ca");
    const pkcs8 = await exportPkcs8(keys.privateKey);
    const { tenantId, partnerId } = caller.tenant;
    caller.ctx.audit.extra = { ca_id: id, serial_number: serial };
    try {
      return await this.deps.secrets.mutate(caller, () => 201, async (tx, emit) => {
        await this.requireRoom(tx, tenantId);
        if (await tx.get("SELECT id FROM pki_cas WHERE tenant_id = ? AND name = ?", [tenantId, body.name])) throw new VaultError("already_exists", `A CA named ${body.name} already exists`, { details: { name: body.name } });
        const sealed = await sealCaKey(this.deps.keyring, tx, tenantId, partnerId, id, pkcs8);
        const row: CaRow = {
          id, tenant_id: tenantId, partner_id: partnerId, name: body.name, common_name: body.common_name, ca_type: body.ca_type, parent_ca_id: parent?.ca.id ?? null,
          key_type: spec.type, key_size: spec.bits, serial_number: serial, certificate_pem: certificate.toString("pem"), ...sealed,
          not_before: notBefore, not_after: notAfter, revoked_at: null, revocation_reason: null, crl_number: 0, created_by: caller.principal.identityId, created_at: now,
        };
        await this.deps.store.insertCa(tx, row);
        await emit({ ...eventBase(caller, null), event_type: "ca.created", data: { ca_id: id, name: row.name, common_name: row.common_name, ca_type: row.ca_type, parent_ca_id: row.parent_ca_id, serial_number: serial, not_after: iso(notAfter) } });
        return caView({ ...row, certificates_issued: 0 });
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new VaultError("already_exists", `A CA named ${body.name} already exists`, { details: { name: body.name } });
      throw error;
    } finally {
      pkcs8.fill(0);
    }
  }

  /**
   * A tenant holds at most SCAIVAULT_MAX_CAS_PER_TENANT CAs, revoked ones included (a CA is never
   * deleted): the CA list, the trust bundle (`pki:issue`) and the per-CA metric read every one, and
   * `pki:admin` may create 20 a minute. Counted in the creating transaction, the tenant's creations
   * taking turns, so two at once cannot both take the last place.
   */
  private async requireRoom(tx: Queryable, tenantId: string): Promise<void> {
    const limit = this.deps.config.maxCasPerTenant;
    const held = await heldInTenantTurn(tx, this.deps.db.dialect, CA_CREATION_LOCK, tenantId, "SELECT COUNT(*) AS n FROM pki_cas WHERE tenant_id = ?", [tenantId]);
    if (held >= limit) throw quotaExceeded("cas", "tenant", limit, "revoked CAs count too; a CA is never deleted", "CAs");
  }

  async list(caller: Caller) {
    return { data: (await this.deps.store.listCas(caller.tenant.tenantId)).map(caView) };
  }

  async require(tenantId: string, id: string, tx?: Queryable) {
    const row = await this.deps.store.getCa(tenantId, id, tx, tx !== undefined);
    if (!row) throw new VaultError("ca_not_found", "No CA with this id in this tenant", { details: { ca_id: id } });
    return row;
  }

  async get(caller: Caller, id: string) {
    caller.ctx.audit.extra = { ca_id: id };
    const row = await this.require(caller.tenant.tenantId, id);
    return caView({ ...row, certificates_issued: await this.deps.store.issuedCount(row.id) });
  }

  /** The CA certificate and its issuers up to the root (issuer first; "" for a root). */
  async chainOf(row: CaRow): Promise<string[]> {
    const chain: string[] = [];
    let parentId = row.parent_ca_id;
    for (let depth = 0; parentId && depth < 16; depth++) {
      const parent = await this.deps.store.getCa(row.tenant_id, parentId);
      if (!parent) break;
      chain.push(parent.certificate_pem.trim());
      parentId = parent.parent_ca_id;
    }
    return chain;
  }

  async signer(tenantId: string, id: string): Promise<Signer> {
    const ca = await this.require(tenantId, id);
    return this.signerOf(ca);
  }

  async signerOf(ca: CaRow): Promise<Signer> {
    const spec: KeySpec = { type: ca.key_type, bits: ca.key_size };
    let key = this.keys.get(ca.id);
    if (!key) {
      const pkcs8 = await openCaKey(this.deps.keyring, ca.tenant_id, ca.id, ca);
      try {
        key = await importSigningKey(pkcs8, spec);
      } finally {
        pkcs8.fill(0);
      }
      this.keys.set(ca.id, key);
    }
    return { ca, certificate: parseCertificate(ca.certificate_pem), key, spec };
  }

  /**
   * Revokes the CA and everything below it: descendant CAs and every leaf they issued, each still
   * valid with `certificate.revoked` naming the CA the cascade came from; the CRLs that list them go stale.
   */
  async revoke(caller: Caller, id: string, reason: string) {
    if (!(reason in REVOCATION_REASONS)) throw validationError({ reason: `must be one of ${Object.keys(REVOCATION_REASONS).join(", ")}` });
    caller.ctx.audit.extra = { ca_id: id };
    return this.deps.secrets.mutate(caller, () => 200, async (tx, emit) => {
      const ca = await this.require(caller.tenant.tenantId, id, tx);
      const certificates_issued = await this.deps.store.issuedCount(ca.id, tx);
      if (ca.revoked_at !== null) return caView({ ...ca, certificates_issued });
      const now = Date.now();
      await this.cascade(tx, caller, ca, id, reason, now, emit);
      return caView({ ...ca, certificates_issued, revoked_at: now, revocation_reason: reason });
    });
  }

  private async cascade(tx: Queryable, caller: Caller, ca: CaRow, rootOfCascade: string, reason: string, now: number, emit: Emit): Promise<void> {
    await this.deps.store.revokeCa(tx, ca.id, now, reason);
    await markCrlStale(tx, ca.parent_ca_id);
    await markCrlStale(tx, ca.id);
    const cascade = ca.id === rootOfCascade ? {} : { cascade_from_ca_id: rootOfCascade };
    await emit({ ...eventBase(caller, null), event_type: "ca.revoked", data: { ca_id: ca.id, serial_number: ca.serial_number, reason, ...cascade } });
    if (ca.id !== rootOfCascade) {
      await emit({ ...eventBase(caller, null), event_type: "certificate.revoked", data: { certificate_id: null, ca_id: ca.id, serial_number: ca.serial_number, common_name: ca.common_name, reason, ...cascade } });
    }
    // An expired certificate has announced its end (certificate.expired): its row is revoked with
    // the rest, unannounced, so a CA's years of history do not become as many events. The valid
    // ones are announced in a few statements, not one or two each (docs/benchmarks.md round 25).
    const leaves = await this.deps.store.revokeLeavesUnder(tx, ca.id, now, reason);
    await emit.many(leaves.filter((leaf) => leaf.not_after > now).map((leaf) => ({
      ...eventBase(caller, leaf.secret_path), event_type: "certificate.revoked",
      data: { certificate_id: leaf.id, serial_number: leaf.serial_number, common_name: leaf.common_name, ca_id: ca.id, role: leaf.role, reason, cascade_from_ca_id: rootOfCascade },
    })));
    for (const child of await this.deps.store.childCas(tx, ca.id)) {
      if (child.revoked_at === null) await this.cascade(tx, caller, child, rootOfCascade, reason, now, emit);
    }
  }
}

/** The next CRL request regenerates it: the revoked serial is listed from then on. */
export async function markCrlStale(tx: Queryable, caId: string | null): Promise<void> {
  if (caId) await tx.run("UPDATE pki_crls SET stale = 1 WHERE ca_id = ?", [caId]);
}
