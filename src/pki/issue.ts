import type { Caller } from "../http/context.js";
import { VaultError } from "../http/errors.js";
import type { Emit } from "../secrets/service.js";
import { iso } from "../shared/time.js";
import type { Queryable } from "../storage/contract.js";
import { BACKDATE_MS, requireActive, type CaService } from "./ca-service.js";
import { eventBase, keyPairFor, newPkiId, requireRolePolicy, type PkiDeps } from "./common.js";
import { parseCsr, requireKeyAllowed } from "./csr.js";
import { checkNames, type CheckedNames } from "./names.js";
import { ttlSeconds, type Role, type RoleService } from "./roles.js";
import { writeCertificateSecret } from "./secret-writer.js";
import type { CertRow } from "./store.js";
import { initialNotice } from "./expiry.js";
import { createLeafCertificate, exportPkcs8, newSerial, pkcs8Pem, x509, type KeySpec } from "./x509.js";

export interface IssueBody {
  common_name: string;
  alt_names?: string[];
  ip_sans?: string[];
  ttl?: string;
}

export interface SignBody {
  csr_pem: string;
  ttl?: string;
  common_name?: string;
  alt_names?: string[];
  ip_sans?: string[];
}

export interface Minted {
  row: CertRow;
  certificate: string;
  caChain: string[];
}

/** What `mint` needs: a public key that already passed the role's key check, and checked names. */
export interface MintRequest {
  role: Role;
  names: CheckedNames;
  publicKey: x509.PublicKeyType;
  keyType: KeySpec["type"];
  ttl: string | undefined;
  source: CertRow["source"];
}

export function issuedView(minted: Minted) {
  return {
    id: minted.row.id,
    serial_number: minted.row.serial_number,
    certificate: minted.certificate,
    ca_chain: minted.caChain,
    issuing_ca: minted.caChain[0] ?? "",
    not_before: iso(minted.row.not_before),
    not_after: iso(minted.row.not_after),
    secret_path: minted.row.secret_path,
  };
}

/** Issue (server key) and sign (client CSR) under a role (contract P4). */
export class IssueService {
  constructor(private readonly deps: PkiDeps, private readonly cas: CaService, private readonly roles: RoleService) {}

  private async authorizedRole(caller: Caller, roleName: string): Promise<Role> {
    caller.ctx.audit.extra = { role: roleName };
    // Policy before existence: a caller who may not use the role learns nothing about it.
    await requireRolePolicy(this.deps, caller, roleName);
    return this.roles.require(caller.tenant.tenantId, roleName);
  }

  async issue(caller: Caller, roleName: string, body: IssueBody) {
    const role = await this.authorizedRole(caller, roleName);
    const names = checkNames(role, body.common_name, body.alt_names ?? [], body.ip_sans ?? []);
    const spec: KeySpec = role.key_type === "any" ? { type: "ec", bits: 256 } : { type: role.key_type, bits: role.key_bits };
    const keys = await keyPairFor(this.deps, caller, spec);
    const pkcs8 = await exportPkcs8(keys.privateKey);
    const keyPem = pkcs8Pem(pkcs8);
    pkcs8.fill(0);
    const minted = await this.mint(caller, { role, names, publicKey: keys.publicKey, keyType: spec.type, ttl: body.ttl, source: "issue" }, keyPem);
    return { ...issuedView(minted), private_key: keyPem, private_key_type: spec.type };
  }

  async sign(caller: Caller, roleName: string, body: SignBody) {
    const role = await this.authorizedRole(caller, roleName);
    const parsed = await parseCsr(body.csr_pem);
    requireKeyAllowed(role, parsed.key);
    const names = namesForCsr(role, parsed, body);
    return issuedView(await this.mint(caller, { role, names, publicKey: parsed.csr.publicKey, keyType: parsed.key.type, ttl: body.ttl, source: "sign" }, null));
  }

  /** Signs and records the certificate (and its secret, for a role that stores keys) with its audit entry and event. */
  async mint(caller: Caller, request: MintRequest, keyPem: string | null, inTx?: (tx: Queryable, row: CertRow, emit: Emit) => Promise<void>): Promise<Minted> {
    const { role } = request;
    const signer = await this.cas.signer(caller.tenant.tenantId, role.ca_id);
    requireActive(signer.ca);
    const now = Date.now();
    const serial = newSerial();
    const secretPath = keyPem !== null && role.store_private_keys ? `pki/${role.name}/${serial}` : null;
    // Secret-path policy applies where a secret is written (contract P1).
    if (secretPath) await this.deps.authorizer.require(caller, secretPath, "write");
    const notAfter = Math.min(now + ttlSeconds(role, request.ttl) * 1000, signer.ca.not_after);
    const base = this.deps.config.baseUrl?.replace(/\/$/, "");
    const certificate = await createLeafCertificate({
      commonName: request.names.commonName,
      dnsNames: request.names.dnsNames,
      ipSans: request.names.ipSans,
      publicKey: request.publicKey,
      publicKeyType: request.keyType,
      serial,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(notAfter),
      serverAuth: role.server_flag,
      clientAuth: role.client_flag,
      issuer: signer,
      urls: base ? { ocsp: `${base}/v1/pki/ca/${signer.ca.id}/ocsp`, caIssuers: `${base}/v1/pki/ca/${signer.ca.id}/certificate?format=der`, crl: `${base}/v1/pki/ca/${signer.ca.id}/crl` } : null,
    });
    const certificatePem = certificate.toString("pem");
    const caChain = [signer.ca.certificate_pem.trim(), ...(await this.cas.chainOf(signer.ca))];
    const row: CertRow = {
      id: newPkiId("cert"), tenant_id: caller.tenant.tenantId, partner_id: caller.tenant.partnerId, ca_id: signer.ca.id, serial_number: serial,
      common_name: request.names.commonName, alt_names: JSON.stringify(request.names.dnsNames), ip_sans: JSON.stringify(request.names.ipSans),
      source: request.source, role: role.name, order_id: null, certificate_pem: certificatePem, not_before: now - BACKDATE_MS, not_after: notAfter,
      revoked_at: null, revocation_reason: null, secret_path: secretPath, created_by: caller.principal.identityId, created_at: now,
      ...noticesFor(notAfter, now, this.deps.config.notifyBeforeMs),
    };
    caller.ctx.audit.extra = { ...caller.ctx.audit.extra, role: role.name, ca_id: row.ca_id, certificate_id: row.id, serial_number: serial };
    if (secretPath) caller.ctx.audit.secretPath = secretPath;
    await this.deps.secrets.mutate(caller, () => 201, async (tx, emit) => {
      await this.deps.store.insertCert(tx, row);
      if (secretPath && keyPem) await writeCertificateSecret(this.deps, tx, caller, secretPath, { cert_pem: certificatePem, key_pem: keyPem, chain_pem: caChain.join("\n") + "\n" }, emit);
      await emit({ ...eventBase(caller, secretPath), event_type: "certificate.issued", data: issuedEventData(row) });
      if (inTx) await inTx(tx, row, emit);
    });
    return { row, certificate: certificatePem, caChain };
  }
}

function noticesFor(notAfter: number, now: number, thresholdsMs: number[]): { next_notice_at: number | null; notices_fired: string } {
  const notice = initialNotice(notAfter, now, thresholdsMs);
  return { next_notice_at: notice.next, notices_fired: notice.fired };
}

export function issuedEventData(row: CertRow) {
  return {
    certificate_id: row.id, serial_number: row.serial_number, common_name: row.common_name, alt_names: JSON.parse(row.alt_names), not_after: iso(row.not_after),
    ca_id: row.ca_id, role: row.role, source: row.source, order_id: row.order_id,
  };
}

/** The CSR's names unless the request gives its own (given names replace the CSR's); `require_cn` wants a CN. */
export function namesForCsr(role: Role, parsed: { commonName: string | null; dnsNames: string[]; ipSans: string[] }, given: { common_name?: string; alt_names?: string[]; ip_sans?: string[] }): CheckedNames {
  const cn = given.common_name ?? parsed.commonName;
  if (role.require_cn && !cn) throw new VaultError("invalid_csr", "The role requires a common name and the CSR has none");
  if (!cn && (given.alt_names ?? parsed.dnsNames).length === 0 && (given.ip_sans ?? parsed.ipSans).length === 0) throw new VaultError("invalid_csr", "The CSR names no subject at all");
  return checkNames(role, cn, given.alt_names ?? parsed.dnsNames, given.ip_sans ?? parsed.ipSans);
}
