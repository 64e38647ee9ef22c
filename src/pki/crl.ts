import type { Caller } from "../http/context.js";
import type { Queryable } from "../storage/contract.js";
import type { CaRow } from "./store.js";
import type { CaService } from "./ca-service.js";
import type { PkiDeps } from "./common.js";
import { crlIssuer, encodeCrl } from "./crl-encoding.js";
import { SizedCache } from "../shared/sized-cache.js";

export interface CrlRow {
  ca_id: string;
  crl_number: number;
  der: Buffer;
  this_update: number;
  next_update: number;
}

// What the CRLs this node keeps in memory may hold in all (a CRL of 100,000 entries is ~5 MB).
const KNOWN_CRL_BYTES = 64 * 1024 * 1024;

/**
 * CRL v2 per CA (contract P2): CRL number, AKI, each entry with its date and reason. A revocation
 * marks the CA's CRL stale; the next request regenerates it, as does one past half its lifetime.
 * A certificate leaves the CRL once it has been expired for a whole CRL lifetime (RFC 5280 §3.3
 * lets it go once a CRL issued after its expiry listed it): the list is bounded by what is revoked
 * and still, or recently, valid rather than by the CA's history.
 */
export class CrlService {
  // One regeneration per CA at a time on this node: a stale CRL read by many at once is signed once.
  private readonly regenerating = new Map<string, Promise<CrlRow>>();
  // Each CA's current CRL as this node last read or signed it. CRL numbers are never reused for a CA,
  // so a read checks the number (a few bytes) and copies the DER, megabytes for a long list, from
  // storage only when another node signed a newer one.
  private readonly known = new SizedCache<string, CrlRow>(KNOWN_CRL_BYTES, (row) => row.der.length);

  constructor(private readonly deps: PkiDeps, private readonly cas: CaService) {}

  /** The current CRL, regenerated first when stale, missing or half-way to its next update. */
  async current(ca: CaRow): Promise<CrlRow> {
    const row = await this.fresh(ca.id, this.deps.db);
    if (row) return row;
    let pending = this.regenerating.get(ca.id);
    if (!pending) {
      pending = this.sign(ca, undefined).finally(() => this.regenerating.delete(ca.id));
      this.regenerating.set(ca.id, pending);
    }
    return pending;
  }

  /** Signs a new CRL now (POST …/crl): a forced regeneration is a change, audited with it. */
  async generate(ca: CaRow, caller: Caller): Promise<CrlRow> {
    return this.sign(ca, caller);
  }

  private async fresh(caId: string, q: Queryable): Promise<CrlRow | undefined> {
    const head = await q.get<{ crl_number: number; this_update: number; stale: number }>("SELECT crl_number, this_update, stale FROM pki_crls WHERE ca_id = ?", [caId]);
    if (!head || Number(head.stale) !== 0 || Date.now() >= Number(head.this_update) + this.deps.config.crlLifetimeMs / 2) return undefined;
    const known = this.known.get(caId);
    if (known?.crl_number === Number(head.crl_number)) return known;
    const row = await q.get<CrlRow>("SELECT ca_id, crl_number, der, this_update, next_update FROM pki_crls WHERE ca_id = ? AND crl_number = ?", [caId, head.crl_number]);
    return row && this.known.set(row.ca_id, { ca_id: row.ca_id, crl_number: Number(row.crl_number), der: Buffer.from(row.der), this_update: Number(row.this_update), next_update: Number(row.next_update) });
  }

  /** Under the CA's row lock, so two nodes never issue the same CRL number twice. */
  private async sign(ca: CaRow, caller: Caller | undefined): Promise<CrlRow> {
    const signer = await this.cas.signerOf(ca);
    const issuer = await crlIssuer(signer);
    return this.deps.db.transaction(async (tx) => {
      if (!caller) {
        // Another node may have regenerated it while this one waited for the lock: serve that one.
        await this.deps.store.lockCa(tx, ca.id);
        const meanwhile = await this.fresh(ca.id, tx);
        if (meanwhile) return meanwhile;
      }
      const crlNumber = await this.deps.store.nextCrlNumber(tx, ca.id);
      const thisUpdate = Math.floor(Date.now() / 1000) * 1000;
      const nextUpdate = thisUpdate + this.deps.config.crlLifetimeMs;
      const revoked = await this.deps.store.revokedUnder(ca.id, thisUpdate - this.deps.config.crlLifetimeMs, tx);
      const der = encodeCrl(signer, issuer, crlNumber, thisUpdate, nextUpdate, revoked);
      const row: CrlRow = { ca_id: ca.id, crl_number: crlNumber, der, this_update: thisUpdate, next_update: nextUpdate };
      await tx.run("DELETE FROM pki_crls WHERE ca_id = ?", [ca.id]);
      await tx.run("INSERT INTO pki_crls (ca_id, tenant_id, crl_number, der, this_update, next_update, stale) VALUES (?, ?, ?, ?, ?, ?, 0)", [ca.id, ca.tenant_id, crlNumber, der, thisUpdate, nextUpdate]);
      if (caller) {
        caller.ctx.audit.extra = { ca_id: ca.id, crl_number: crlNumber };
        await this.deps.audit.recordInTransaction(tx, caller, 200);
      }
      return row;
    }).then((row) => this.known.set(row.ca_id, row));
  }
}

/** PEM as @peculiar's PemConverter writes it (64 columns), from Node's own base64: megabytes for a long list. */
export function crlPem(der: Buffer): string {
  const base64 = der.toString("base64");
  const lines: string[] = [];
  for (let at = 0; at < base64.length; at += 64) lines.push(base64.slice(at, at + 64));
  return `-----BEGIN X509 CRL-----\n${lines.join("\n")}\n-----END X509 CRL-----\n`;
}
