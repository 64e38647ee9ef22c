import type { Counter } from "prom-client";
import type { Caller } from "../../http/context.js";
import { quotaExceeded, validationError, VaultError } from "../../http/errors.js";
import { systemCaller, withEvents } from "../../rotation/actor.js";
import { requireValidPath } from "../../secrets/paths.js";
import { requireDuration } from "../../shared/duration.js";
import { randomBase62 } from "../../shared/ids.js";
import { iso, isoOrNull } from "../../shared/time.js";
import type { Queryable } from "../../storage/contract.js";
import type { Condition } from "../../storage/bounded-page.js";
import { heldInTenantTurn } from "../../storage/tenant-lock.js";
import { eventBase, requireReader, submissionPage, type PkiDeps } from "../common.js";
import { initialNotice } from "../expiry.js";
import { issuedEventData } from "../issue.js";
import { writeCertificateSecret } from "../secret-writer.js";
import type { CertRow } from "../store.js";
import { x509 } from "../x509.js";
import type { AcmeAccounts } from "./accounts.js";
import { acme, acmeExchange, problemOf } from "./client.js";
import type { DnsChallengeSolver, TenantRef } from "./dns-solver.js";

export const ACME_IDENTITY = "system:acme";
/** A claimed order is someone's for this long; a node that dies mid-order leaves it to another after it. */
const LEASE_MS = 10 * 60_000;
const RETRY_MS = 3_600_000;
// Any fixed number: the first half of the advisory lock key that serializes one tenant's order creations.
const ORDER_CREATION_LOCK = 7_305_210;

export interface OrderRow {
  id: string;
  tenant_id: string;
  partner_id: string;
  account_id: string;
  domains: string;
  challenge_type: "http-01" | "dns-01";
  dns_provider_id: string | null;
  key_type: "ec" | "rsa";
  key_bits: number;
  secret_path: string;
  auto_renew: number | boolean;
  renew_before: string;
  status: "pending" | "processing" | "valid" | "invalid";
  error: string | null;
  certificate_id: string | null;
  serial_number: string | null;
  not_after: number | null;
  renewals: number;
  next_renewal_at: number | null;
  run_at: number | null;
  created_by: string;
  created_at: number;
  updated_at: number;
}

const COLUMNS = ["id", "tenant_id", "partner_id", "account_id", "domains", "challenge_type", "dns_provider_id", "key_type", "key_bits", "secret_path", "auto_renew", "renew_before", "status", "error", "certificate_id", "serial_number", "not_after", "renewals", "next_renewal_at", "run_at", "created_by", "created_at", "updated_at"] as const;

export interface OrderCreateBody {
  account_id: string;
  domains: string[];
  challenge_type?: "http-01" | "dns-01" | "tls-alpn-01";
  dns_provider_id?: string;
  key_type?: "ec" | "rsa";
  key_bits?: number;
  secret_path?: string;
  auto_renew?: boolean;
  renew_before?: string;
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export function orderView(row: OrderRow) {
  return {
    id: row.id, account_id: row.account_id, domains: JSON.parse(row.domains) as string[], challenge_type: row.challenge_type, dns_provider_id: row.dns_provider_id,
    key_type: row.key_type, key_bits: Number(row.key_bits),
    status: row.status, error: row.error ? (JSON.parse(row.error) as { type: string; detail: string }) : null, certificate_id: row.certificate_id, serial_number: row.serial_number,
    not_after: isoOrNull(num(row.not_after)), secret_path: row.secret_path, auto_renew: Boolean(Number(row.auto_renew)), renew_before: row.renew_before,
    renewals: Number(row.renewals), next_renewal_at: isoOrNull(num(row.next_renewal_at)), created_at: iso(Number(row.created_at)), updated_at: iso(Number(row.updated_at)),
  };
}

const DOMAIN = /^(\*\.)?(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Renewal is due at `not_after − min(renew_before, ⅔ lifetime)` (contract P8). */
export function renewalDue(notBefore: number, notAfter: number, renewBeforeMs: number): number {
  return notAfter - Math.min(renewBeforeMs, Math.floor(((notAfter - notBefore) * 2) / 3));
}

export interface AcmeMetrics {
  orders: Counter<"result" | "kind">;
}

/** ACME orders (contract P8): accepted at once, worked in the background by whichever node claims them. */
export class AcmeOrders {
  wake: () => void = () => undefined;

  constructor(private readonly deps: PkiDeps, private readonly accounts: AcmeAccounts, private readonly solver: DnsChallengeSolver | undefined, private readonly metrics: AcmeMetrics | null) {}

  async create(caller: Caller, body: OrderCreateBody) {
    const tenant: TenantRef = { tenantId: caller.tenant.tenantId, partnerId: caller.tenant.partnerId };
    const domains = [...new Set(body.domains.map((d) => d.trim().toLowerCase().replace(/\.$/, "")))];
    const bad = domains.find((d) => !DOMAIN.test(d));
    if (bad !== undefined) throw validationError({ domains: `"${bad}" is not a DNS name` });
    if (body.challenge_type === "tls-alpn-01") throw validationError({ challenge_type: "tls-alpn-01 is not supported yet; use http-01 or dns-01" });
    const account = await this.accounts.require(tenant.tenantId, body.account_id);
    caller.ctx.audit.extra = { account_id: account.id };
    await this.deps.authorizer.require(caller, `sys/pki/acme/${account.name}`, "write");
    const keyType = body.key_type ?? "ec";
    const keyBits = body.key_bits ?? (keyType === "ec" ? 256 : 2048);
    if (keyType === "ec" ? ![256, 384].includes(keyBits) : ![2048, 3072, 4096].includes(keyBits)) {
      throw validationError({ key_bits: keyType === "ec" ? "must be 256 or 384 for ec" : "must be 2048, 3072 or 4096 for rsa" });
    }
    const renewBefore = body.renew_before ?? "30d";
    requireDuration("renew_before", renewBefore);
    const secretPath = requireValidPath(body.secret_path ?? `pki/acme/${domains[0].replace(/^\*/, "_wildcard")}`);
    let challenge = body.challenge_type;
    let providerId: string | null = null;
    if (challenge === "dns-01" || challenge === undefined || body.dns_provider_id !== undefined) {
      const picked = this.solver ? await this.solver.pick(tenant, domains, body.dns_provider_id) : null;
      if (picked) {
        challenge = challenge ?? "dns-01";
        if (challenge === "dns-01") providerId = picked.id;
      } else if (challenge === "dns-01") {
        throw validationError({ challenge_type: this.solver ? "no DNS provider of this tenant covers every domain" : "dns-01 needs a DNS provider, and none is configured on this vault" });
      }
    }
    challenge = challenge ?? "http-01";
    if (challenge === "http-01" && domains.some((d) => d.startsWith("*."))) throw validationError({ challenge_type: "wildcard names need dns-01" });
    await this.deps.authorizer.require(caller, secretPath, "write");
    const now = Date.now();
    const row: OrderRow = {
      id: `order_${randomBase62(20)}`, tenant_id: tenant.tenantId, partner_id: tenant.partnerId, account_id: account.id, domains: JSON.stringify(domains),
      challenge_type: challenge, dns_provider_id: providerId, key_type: keyType, key_bits: keyBits, secret_path: secretPath, auto_renew: body.auto_renew === false ? 0 : 1,
      renew_before: renewBefore, status: "pending", error: null, certificate_id: null, serial_number: null, not_after: null, renewals: 0, next_renewal_at: null,
      run_at: now, created_by: caller.principal.identityId, created_at: now, updated_at: now,
    };
    caller.ctx.audit.extra = { account_id: account.id, order_id: row.id };
    caller.ctx.audit.secretPath = secretPath;
    await this.deps.secrets.mutate(caller, () => 201, async (tx) => {
      await this.requireRoomForOrder(tx, tenant.tenantId);
      await tx.run(`INSERT INTO acme_orders (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")})`, COLUMNS.map((c) => row[c] as never));
    });
    this.wake();
    return orderView(row);
  }

  /**
   * A tenant holds at most SCAIVAULT_MAX_OPEN_ACME_ORDERS_PER_TENANT orders not yet worked to their
   * end: each is a CA exchange and perhaps a DNS wait. Counted inside the creating transaction, one
   * tenant's creations taking turns (`takeTenantTurn`), so two at once cannot both take the last place.
   */
  private async requireRoomForOrder(tx: Queryable, tenantId: string): Promise<void> {
    const limit = this.deps.config.maxOpenAcmeOrdersPerTenant;
    const open = await heldInTenantTurn(tx, this.deps.db.dialect, ORDER_CREATION_LOCK, tenantId, "SELECT COUNT(*) AS n FROM acme_orders WHERE tenant_id = ? AND status IN ('pending', 'processing')", [tenantId]);
    if (open >= limit) throw quotaExceeded("acme_orders", "tenant", limit, "wait until one is valid or invalid", "pending or processing ACME orders");
  }

  private async require(caller: Caller, id: string): Promise<OrderRow> {
    const { onlyCreatedBy } = requireReader(caller);
    const row = await this.deps.db.get<OrderRow>("SELECT * FROM acme_orders WHERE tenant_id = ? AND id = ?", [caller.tenant.tenantId, id]);
    if (!row || (onlyCreatedBy !== null && row.created_by !== onlyCreatedBy)) throw new VaultError("acme_order_not_found", "No ACME order with this id in this tenant", { details: { id } });
    caller.ctx.audit.extra = { order_id: row.id };
    return row;
  }

  async get(caller: Caller, id: string) {
    return orderView(await this.require(caller, id));
  }

  /** Oldest first, a page at a time along the tenant's index; the filters are checked on a bounded walk of it. */
  async list(caller: Caller, query: { status?: string; account_id?: string; limit?: number; cursor?: string }) {
    const { onlyCreatedBy } = requireReader(caller);
    const filters: Condition[] = [];
    if (query.status) filters.push({ sql: "status = ?", params: [query.status] });
    if (query.account_id) filters.push({ sql: "account_id = ?", params: [query.account_id] });
    if (onlyCreatedBy !== null) filters.push({ sql: "created_by = ?", params: [onlyCreatedBy] });
    const scope = [{ sql: "tenant_id = ?", params: [caller.tenant.tenantId] }];
    return submissionPage(this.deps.db, { table: "acme_orders", index: "acme_orders_list", scope, filters }, query, orderView);
  }

  async certificate(caller: Caller, id: string) {
    const row = await this.require(caller, id);
    const cert = row.certificate_id ? await this.deps.db.get<CertRow & { chain_pem: string | null }>("SELECT * FROM pki_certificates WHERE tenant_id = ? AND id = ?", [row.tenant_id, row.certificate_id]) : undefined;
    if (!cert) throw new VaultError("certificate_not_found", "This order has no certificate yet", { details: { order_id: id, status: row.status } });
    return { certificate: cert.certificate_pem, ca_chain: acme.crypto.splitPemChain(cert.chain_pem ?? ""), serial_number: cert.serial_number, not_after: iso(Number(cert.not_after)), secret_path: row.secret_path };
  }

  /** Renews now (**ext**): due at once; an order already being worked is left to finish. */
  async renew(caller: Caller, id: string) {
    const row = await this.require(caller, id);
    await this.deps.authorizer.require(caller, row.secret_path, "write");
    caller.ctx.audit.secretPath = row.secret_path;
    await this.deps.secrets.mutate(caller, () => 202, async (tx) => {
      await tx.run("UPDATE acme_orders SET run_at = ?, updated_at = ? WHERE id = ? AND status IN ('valid', 'invalid')", [Date.now(), Date.now(), row.id]);
    });
    this.wake();
    return orderView((await this.deps.db.get<OrderRow>("SELECT * FROM acme_orders WHERE id = ?", [row.id]))!);
  }

  // --- the background work -------------------------------------------------------------------

  /**
   * The oldest due order of a tenant not in `excluded` (the tenants this node is working, and those
   * it started last): along `acme_orders_run`, skipping only the excluded tenants' due rows.
   */
  async nextDue(now: number, excluded: readonly string[]): Promise<OrderRow | undefined> {
    const others = excluded.length === 0 ? "" : ` AND tenant_id NOT IN (${excluded.map(() => "?").join(", ")})`;
    return this.deps.db.get<OrderRow>(`SELECT * FROM acme_orders WHERE run_at IS NOT NULL AND run_at <= ?${others} ORDER BY run_at LIMIT 1`, [now, ...excluded]);
  }

  /** Claims a due order by a conditional UPDATE of `run_at` (as expiry notices are): one node wins, the others get null. */
  async claim(row: OrderRow): Promise<OrderRow | null> {
    const lease = Date.now() + LEASE_MS;
    const status = row.certificate_id ? row.status : "processing";
    const claim = await this.deps.db.run("UPDATE acme_orders SET run_at = ?, status = ?, updated_at = ? WHERE id = ? AND run_at = ?", [lease, status, Date.now(), row.id, Number(row.run_at)]);
    return claim.changes === 0 ? null : { ...row, run_at: lease, status };
  }

  /** Works a claimed order to its end: `valid` with a certificate, or `invalid` (a renewal: retried hourly). */
  async work(row: OrderRow): Promise<void> {
    const renewal = row.certificate_id !== null;
    const tenant: TenantRef = { tenantId: row.tenant_id, partnerId: row.partner_id };
    let issued: Awaited<ReturnType<AcmeOrders["obtain"]>>;
    try {
      issued = await acmeExchange(() => this.obtain(row, tenant));
    } catch (error) {
      await this.failed(row, renewal, error instanceof VaultError ? { type: error.code, detail: error.message } : problemOf(error));
      return;
    }
    try {
      await this.succeeded(row, renewal, issued);
    } finally {
      issued.keyPem.fill(0);
    }
  }

  /** The RFC 8555 exchange: order, challenges, finalize with a fresh key, download. */
  private async obtain(row: OrderRow, tenant: TenantRef) {
    const account = await this.accounts.require(row.tenant_id, row.account_id);
    const domains = JSON.parse(row.domains) as string[];
    const { client, wipe } = await this.accounts.client(account);
    try {
      const order = await client.createOrder({ identifiers: domains.map((value) => ({ type: "dns", value })) });
      for (const authz of await client.getAuthorizations(order)) {
        if (authz.status === "valid") continue;
        const challenge = authz.challenges.find((c) => c.type === row.challenge_type);
        if (!challenge) throw new VaultError("acme_error", `The CA offers no ${row.challenge_type} challenge for ${authz.identifier.value}`);
        const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
        const txtName = `_acme-challenge.${authz.identifier.value.replace(/^\*\./, "")}`;
        if (row.challenge_type === "http-01") {
          const token = (challenge as { token: string }).token;
          await this.deps.db.run("INSERT INTO acme_challenges (token, tenant_id, partner_id, order_id, key_authorization, created_at) VALUES (?, ?, ?, ?, ?, ?)", [token, row.tenant_id, row.partner_id, row.id, keyAuthorization, Date.now()]);
        } else {
          if (!this.solver || !row.dns_provider_id) throw new VaultError("acme_error", "dns-01 needs a DNS provider, and none is configured on this vault");
          await this.solver.present(tenant, row.dns_provider_id, txtName, keyAuthorization);
        }
        try {
          await client.completeChallenge(challenge);
          await client.waitForValidStatus(challenge);
        } finally {
          if (row.challenge_type === "http-01") await this.deps.db.run("DELETE FROM acme_challenges WHERE token = ?", [(challenge as { token: string }).token]);
          else await this.solver!.cleanup(tenant, row.dns_provider_id!, txtName, keyAuthorization).catch(() => undefined);
        }
      }
      const key = row.key_type === "ec"
        ? await acme.crypto.createPrivateEcdsaKey(Number(row.key_bits) === 384 ? "P-384" : "P-256")
        : await this.deps.expensive.forTenant(row.tenant_id).inTurn(() => acme.crypto.createPrivateRsaKey(Number(row.key_bits)));
      const [, csr] = await acme.crypto.createCsr({ commonName: domains[0], altNames: domains }, key);
      const finalized = await client.finalizeOrder(order, csr);
      const pems = acme.crypto.splitPemChain(await client.getCertificate(finalized));
      const leaf = new x509.X509Certificate(pems[0]);
      return { keyPem: key, certPem: pems[0].trim() + "\n", chain: pems.slice(1).map((p) => p.trim()), serial: leaf.serialNumber.toLowerCase(), notBefore: leaf.notBefore.getTime(), notAfter: leaf.notAfter.getTime(), domains };
    } finally {
      wipe();
    }
  }

  private async succeeded(row: OrderRow, renewal: boolean, issued: Awaited<ReturnType<AcmeOrders["obtain"]>>): Promise<void> {
    const caller = systemCaller(ACME_IDENTITY, row.tenant_id, row.partner_id);
    const now = Date.now();
    const notice = initialNotice(issued.notAfter, now, this.deps.config.notifyBeforeMs);
    const cert: CertRow = {
      id: `cert_${randomBase62(20)}`, tenant_id: row.tenant_id, partner_id: row.partner_id, ca_id: row.account_id, serial_number: issued.serial,
      common_name: issued.domains[0], alt_names: JSON.stringify(issued.domains), ip_sans: "[]", source: "acme", role: null, order_id: row.id,
      certificate_pem: issued.certPem, not_before: issued.notBefore, not_after: issued.notAfter, revoked_at: null, revocation_reason: null,
      secret_path: row.secret_path, created_by: row.created_by, created_at: now, next_notice_at: notice.next, notices_fired: notice.fired,
    };
    const due = renewalDue(issued.notBefore, issued.notAfter, requireDuration("renew_before", row.renew_before) * 1000);
    const autoRenew = Boolean(Number(row.auto_renew));
    const committed = await withEvents(this.deps.db, this.deps.events, async (tx, emit) => {
      // Still ours? A node that outlived its lease must not overwrite another's work.
      const mine = await tx.run("UPDATE acme_orders SET status = 'valid', error = NULL, certificate_id = ?, serial_number = ?, not_after = ?, renewals = renewals + ?, next_renewal_at = ?, run_at = ?, updated_at = ? WHERE id = ? AND run_at = ?",
        [cert.id, cert.serial_number, cert.not_after, renewal ? 1 : 0, autoRenew ? due : null, autoRenew ? due : null, now, row.id, Number(row.run_at)]);
      if (mine.changes === 0) return false;
      await this.deps.store.insertCert(tx, cert);
      await tx.run("UPDATE pki_certificates SET chain_pem = ? WHERE id = ?", [issued.chain.join("\n") + "\n", cert.id]);
      await writeCertificateSecret(this.deps, tx, caller, row.secret_path, { cert_pem: issued.certPem, key_pem: issued.keyPem.toString("utf8"), chain_pem: issued.chain.join("\n") + "\n" }, emit, ACME_IDENTITY);
      const data = issuedEventData(cert);
      await emit({ ...eventBase(caller, row.secret_path), event_type: renewal ? "certificate.renewed" : "certificate.issued", data: renewal ? { ...data, previous_certificate_id: row.certificate_id } : data });
      await this.audit(tx, row, caller.requestId, renewal, true, { certificate_id: cert.id, serial_number: cert.serial_number });
      return true;
    });
    if (committed) this.metrics?.orders.inc({ result: "valid", kind: renewal ? "renewal" : "order" });
  }

  private async failed(row: OrderRow, renewal: boolean, problem: { type: string; detail: string }): Promise<void> {
    const caller = systemCaller(ACME_IDENTITY, row.tenant_id, row.partner_id);
    const now = Date.now();
    const committed = await withEvents(this.deps.db, this.deps.events, async (tx, emit) => {
      const retryAt = now + RETRY_MS;
      const mine = renewal
        ? await tx.run("UPDATE acme_orders SET error = ?, next_renewal_at = ?, run_at = ?, updated_at = ? WHERE id = ? AND run_at = ?", [JSON.stringify(problem), retryAt, retryAt, now, row.id, Number(row.run_at)])
        : await tx.run("UPDATE acme_orders SET status = 'invalid', error = ?, run_at = NULL, updated_at = ? WHERE id = ? AND run_at = ?", [JSON.stringify(problem), now, row.id, Number(row.run_at)]);
      if (mine.changes === 0) return false;
      if (renewal) {
        await emit({ ...eventBase(caller, row.secret_path), event_type: "certificate.renewal_failed", data: {
          order_id: row.id, certificate_id: row.certificate_id, serial_number: row.serial_number, domains: JSON.parse(row.domains), error: problem, next_attempt_at: iso(retryAt),
        } });
      }
      await this.audit(tx, row, caller.requestId, renewal, false, { error_type: problem.type });
      return true;
    });
    if (committed) this.metrics?.orders.inc({ result: "invalid", kind: renewal ? "renewal" : "order" });
  }

  private async audit(tx: Queryable, row: OrderRow, requestId: string, renewal: boolean, success: boolean, extra: Record<string, unknown>): Promise<void> {
    await this.deps.audit.recordSystem(tx, {
      partnerId: row.partner_id, tenantId: row.tenant_id, action: renewal ? "acme_order_renew" : "acme_order_finalize", identityId: ACME_IDENTITY,
      secretPath: success ? row.secret_path : null, success, requestId, extraData: { order_id: row.id, account_id: row.account_id, ...extra },
    });
  }
}
