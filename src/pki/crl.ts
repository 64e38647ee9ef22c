import { AsnConvert } from "@peculiar/asn1-schema";
import { CRLNumber, id_ce_cRLNumber } from "@peculiar/asn1-x509";
import type { Caller } from "../http/context.js";
import type { CaRow } from "./store.js";
import type { CaService } from "./ca-service.js";
import { REVOCATION_REASONS, type PkiDeps } from "./common.js";
import { signingAlgorithm, x509 } from "./x509.js";

export interface CrlRow {
  ca_id: string;
  crl_number: number;
  der: Buffer;
  this_update: number;
  next_update: number;
}

/**
 * CRL v2 per CA (contract P2): CRL number, AKI, each entry with its date and reason. A revocation
 * marks the CA's CRL stale; the next request regenerates it, as does one past half its lifetime.
 */
export class CrlService {
  constructor(private readonly deps: PkiDeps, private readonly cas: CaService) {}

  /** The current CRL, regenerated first when stale, missing or half-way to its next update. */
  async current(ca: CaRow): Promise<CrlRow> {
    const row = await this.deps.db.get<CrlRow & { stale: number }>("SELECT ca_id, crl_number, der, this_update, next_update, stale FROM pki_crls WHERE ca_id = ?", [ca.id]);
    const now = Date.now();
    if (row && Number(row.stale) === 0 && now < Number(row.this_update) + this.deps.config.crlLifetimeMs / 2) {
      return { ca_id: row.ca_id, crl_number: Number(row.crl_number), der: Buffer.from(row.der), this_update: Number(row.this_update), next_update: Number(row.next_update) };
    }
    return this.generate(ca);
  }

  /** Signs a new CRL under the CA's row lock, so two nodes never issue the same CRL number twice. */
  async generate(ca: CaRow, caller?: Caller): Promise<CrlRow> {
    const signer = await this.cas.signerOf(ca);
    return this.deps.db.transaction(async (tx) => {
      const crlNumber = await this.deps.store.nextCrlNumber(tx, ca.id);
      const revoked = await this.deps.store.revokedUnder(ca.id, tx);
      const now = Date.now();
      const thisUpdate = new Date(Math.floor(now / 1000) * 1000);
      const nextUpdate = new Date(thisUpdate.getTime() + this.deps.config.crlLifetimeMs);
      const crl = await x509.X509CrlGenerator.create({
        issuer: signer.certificate.subjectName,
        thisUpdate,
        nextUpdate,
        signingKey: signer.key,
        signingAlgorithm: signingAlgorithm(signer.spec),
        extensions: [
          await x509.AuthorityKeyIdentifierExtension.create(signer.certificate.publicKey),
          new x509.Extension(id_ce_cRLNumber, false, AsnConvert.serialize(new CRLNumber(crlNumber))),
        ],
        entries: revoked.map((r) => ({ serialNumber: r.serial_number, revocationDate: new Date(r.revoked_at), reason: REVOCATION_REASONS[r.revocation_reason ?? "unspecified"] ?? 0 })),
      });
      const der = Buffer.from(crl.rawData);
      const row: CrlRow = { ca_id: ca.id, crl_number: crlNumber, der, this_update: thisUpdate.getTime(), next_update: nextUpdate.getTime() };
      await tx.run("DELETE FROM pki_crls WHERE ca_id = ?", [ca.id]);
      await tx.run("INSERT INTO pki_crls (ca_id, tenant_id, crl_number, der, this_update, next_update, stale) VALUES (?, ?, ?, ?, ?, ?, 0)", [ca.id, ca.tenant_id, crlNumber, der, row.this_update, row.next_update]);
      // A forced regeneration is a change: its audit entry commits with it.
      if (caller) {
        caller.ctx.audit.extra = { ca_id: ca.id, crl_number: crlNumber };
        await this.deps.audit.recordInTransaction(tx, caller, 200);
      }
      return row;
    });
  }
}

export function crlPem(der: Buffer): string {
  return `${x509.PemConverter.encode(new Uint8Array(der), "X509 CRL").trim()}\n`;
}
