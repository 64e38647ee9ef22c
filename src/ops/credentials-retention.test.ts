import { expect, it } from "vitest";
import { ENDED_TOKENS } from "../access/token-store.js";
import { ENDED_LEASES } from "../dynamic/store.js";
import { endedCertificates } from "../pki/store.js";
import { endedSubmissions } from "../pki/retention.js";
import { created, hierarchy } from "../pki/testing.js";
import { eventually } from "../events/test-receiver.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { pruneStepPlan } from "../testing/plans.js";
import type { Database } from "../storage/contract.js";
import { RetentionJob } from "./retention.js";

const HOUR = 3_600_000;
/** A CRL lifetime longer than the tests' window: a revoked certificate outlives the window by it. */
const CRL_LIFETIME = 2 * HOUR;
const STEPS = [...ENDED_TOKENS, ...ENDED_LEASES, ...endedCertificates(CRL_LIFETIME)];
/** A review window longer than the tests' retention window: an expired CSR outlives the window by it. */
const CSR_TTL = 3 * HOUR;
const SUBMISSIONS = endedSubmissions(CSR_TTL);

/** A lease row as the dynamic engine leaves it; only what the retention rule reads varies. */
async function insertLease(db: Database, id: string, lease: { state: string; expiresAt: number; maxExpiresAt?: number; revokedAt?: number | null; serial?: string | null }): Promise<void> {
  await db.run(
    `INSERT INTO dynamic_leases (id, tenant_id, partner_id, engine_id, engine_name, role_name, identity_id, username, revocation, renew, serial, state,
       created_at, expires_at, max_expires_at, last_renewed_at, revoked_at, revoke_reason, revoke_attempts, last_error, next_retry_at, claimed_until, claimed_by)
     VALUES (?, 't_x', 'p_x', 'eng_x', 'pg', 'ro', 'user:a', 'v_ro_1', '[]', '[]', ?, ?, ?, ?, ?, NULL, ?, NULL, 0, NULL, NULL, NULL, NULL)`,
    [id, lease.serial ?? null, lease.state, lease.expiresAt - HOUR, lease.expiresAt, lease.maxExpiresAt ?? lease.expiresAt, lease.revokedAt ?? null],
  );
}

const ids = async (db: Database, sql: string): Promise<string[]> => (await db.all<{ id: string }>(sql)).map((row) => row.id).sort();

describeEachBackend("credential retention", (backend) => {
  // The node's own hourly pass stays out of the way; the tests drive passes with a clock of their own.
  const vault = useVault(backend);

  it("prunes tokens, leases and certificates that ended before the window, and keeps live ones, ended ones inside it, leases still owed a revocation or listed in a KRL, and certificates owed a notice or listed in a CRL", async () => {
    const { admin, anonymous, vault: server } = vault();
    const db = server.db;
    const issue = async (expires_in?: string) => (await admin.post("/v1/auth/tokens", { identity_id: "sa:retention", scopes: ["secrets:read"], ...(expires_in ? { expires_in } : {}) })).body as { id: string; token: string };
    const expiresInOneHour = await issue("1h");
    const expiresInThreeHours = await issue("3h");
    const ninetyDays = await issue(); // the default expiry
    const revokedNow = await issue("30d");
    expect((await admin.delete(`/v1/auth/tokens/${revokedNow.id}`)).status).toBe(200);

    // A pass two hours from now with a thirty-minute window: the cutoff is ninety minutes from now.
    const now = Date.now() + 2 * HOUR;
    const cutoff = now - HOUR / 2;
    await insertLease(db, "lease_expired_long_ago", { state: "expired", expiresAt: cutoff - HOUR, revokedAt: cutoff - HOUR });
    await insertLease(db, "lease_revoked_long_ago", { state: "revoked", expiresAt: cutoff - 1, revokedAt: cutoff - 2 * HOUR });
    await insertLease(db, "lease_ended_in_window", { state: "expired", expiresAt: cutoff + 60_000, revokedAt: cutoff + 60_000 });
    // Its expiry's revocation failed and only succeeded inside the window: the source held it till then.
    await insertLease(db, "lease_revoked_lately", { state: "expired", expiresAt: cutoff - HOUR, revokedAt: cutoff + 60_000 });
    await insertLease(db, "lease_revoke_failed", { state: "revoke_failed", expiresAt: cutoff - HOUR });
    await insertLease(db, "lease_active_past_expiry", { state: "active", expiresAt: cutoff - HOUR });
    await insertLease(db, "lease_ssh_in_krl", { state: "revoked", expiresAt: cutoff - HOUR, revokedAt: cutoff - HOUR, maxExpiresAt: now + HOUR, serial: "17" });
    await insertLease(db, "lease_ssh_past_krl", { state: "expired", expiresAt: cutoff - HOUR, revokedAt: cutoff - HOUR, maxExpiresAt: cutoff - 1, serial: "18" });

    // Certificates issued through the API, their ends moved: unrevoked past the cutoff (its expiry
    // notice fired, or still due), revoked past the cutoff but inside a CRL lifetime, revoked past both, live.
    const h = await hierarchy(admin, "retention", { allowed_domains: ["svc.internal"], allow_subdomains: true });
    const cert = async (name: string) => (await created(admin.post(`/v1/pki/issue/${h.role.name}`, { common_name: `${name}.svc.internal` }))).id as string;
    const [expiredNoticed, expiredNoticePending, revokedInCrl, revokedPastCrl, live] = await Promise.all(["a", "b", "c", "d", "e"].map(cert));
    for (const id of [revokedInCrl, revokedPastCrl]) expect((await admin.post(`/v1/pki/certificates/${id}/revoke`, { reason: "superseded" })).status).toBe(200);
    const end = async (id: string, notAfter: number, noticeAt: number | null = null) => db.run("UPDATE pki_certificates SET not_after = ?, next_notice_at = ? WHERE id = ?", [notAfter, noticeAt, id]);
    await end(expiredNoticed, cutoff - 60_000);
    await end(expiredNoticePending, cutoff - 60_000, cutoff - 60_000);
    await end(revokedInCrl, now - CRL_LIFETIME + 60_000);
    await end(revokedPastCrl, now - CRL_LIFETIME - 60_000);

    const job = new RetentionJob(db, { job: "credentials_retention", steps: STEPS, windowMs: HOUR / 2, intervalMs: 1000, log: () => {} });
    expect(await job.runIfDue(now)).toEqual({ tokens_expired: 1, tokens_revoked: 1, leases: 3, certificates_expired: 1, certificates_revoked: 1 });
    expect(await ids(db, "SELECT id FROM pki_certificates")).toEqual([expiredNoticePending, revokedInCrl, live].sort());
    // The CA still counts what it issued.
    expect((await admin.get(`/v1/pki/ca/${h.int.id}`)).body.certificates_issued).toBe(5);

    const tokens = await ids(db, "SELECT id FROM tokens WHERE identity_id = 'sa:retention'");
    expect(tokens).toEqual([expiresInThreeHours.id, ninetyDays.id].sort());
    expect(await ids(db, "SELECT id FROM dynamic_leases")).toEqual(["lease_active_past_expiry", "lease_ended_in_window", "lease_revoke_failed", "lease_revoked_lately", "lease_ssh_in_krl"]);
    // A pruned token is unknown: still refused, as an unknown one is.
    const refused = await anonymous.withToken(expiresInOneHour.token).get("/v1/secrets");
    expect([refused.status, refused.body.error.code]).toEqual([401, "token_invalid"]);
    // The pass took its lease row and let go of it.
    expect(await db.get("SELECT owner, lease_until FROM maintenance_leases WHERE name = 'credentials_retention'")).toMatchObject({ owner: null });
  });

  it("prunes CSRs decided or expired before the window, ACME orders that failed or whose certificate ended before it, and challenge rows a crash left; keeps the rest", async () => {
    const db = vault().vault.db;
    const now = Date.now() + 2 * HOUR;
    const cutoff = now - HOUR / 2;
    const csr = (id: string, state: string, createdAt: number, updatedAt = createdAt) => db.run(
      `INSERT INTO pki_csrs (id, tenant_id, partner_id, role, csr_pem, state, common_name, alt_names, ip_sans, key_type, ttl, comment, requested_by, decided_by, reason, certificate_id, created_at, updated_at)
       VALUES (?, 't_x', 'p_x', 'vendor', 'PEM', ?, 'a.example', '[]', '[]', 'ec', NULL, NULL, 'sa:desk', ?, NULL, ?, ?, ?)`,
      [id, state, state === "pending" ? null : "user:admin", state === "signed" ? `cert_of_${id}` : null, createdAt, updatedAt]);
    await csr("csr_signed_long_ago", "signed", cutoff - 2 * HOUR, cutoff - HOUR);
    await csr("csr_rejected_long_ago", "rejected", cutoff - 2 * HOUR, cutoff - 1);
    // Submitted long ago, decided inside the window: kept for the window from its decision.
    await csr("csr_signed_lately", "signed", cutoff - 10 * HOUR, cutoff + 60_000);
    // Expired (submitted a review window ago) before the retention window began, and inside it.
    await csr("csr_expired_long_ago", "pending", cutoff - CSR_TTL - 1);
    await csr("csr_expired_lately", "pending", cutoff - CSR_TTL + 60_000);
    await csr("csr_pending", "pending", now - HOUR);

    const order = (id: string, o: { status: string; runAt: number | null; updatedAt: number; notAfter?: number | null }) => db.run(
      `INSERT INTO acme_orders (id, tenant_id, partner_id, account_id, domains, challenge_type, dns_provider_id, key_type, key_bits, secret_path, auto_renew, renew_before, status,
                               error, certificate_id, serial_number, not_after, renewals, next_renewal_at, run_at, created_by, created_at, updated_at)
       VALUES (?, 't_x', 'p_x', 'acme_x', '["a.example"]', 'http-01', NULL, 'ec', 256, 'pki/acme/a.example', ?, '30d', ?, ?, ?, NULL, ?, 0, ?, ?, 'user:a', ?, ?)`,
      [id, o.runAt === null ? 0 : 1, o.status, o.status === "invalid" ? '{"type":"acme_error","detail":"x"}' : null, o.status === "valid" ? `cert_of_${id}` : null,
        o.notAfter ?? null, o.runAt, o.runAt, o.updatedAt - HOUR, o.updatedAt]);
    await order("order_failed_long_ago", { status: "invalid", runAt: null, updatedAt: cutoff - 1 });
    await order("order_failed_lately", { status: "invalid", runAt: null, updatedAt: cutoff + 60_000 });
    await order("order_ended_long_ago", { status: "valid", runAt: null, updatedAt: cutoff - 3 * HOUR, notAfter: cutoff - 1 });
    await order("order_valid_till_later", { status: "valid", runAt: null, updatedAt: cutoff - 3 * HOUR, notAfter: now + HOUR });
    // It renews: live however old its last certificate, and a renewal that failed keeps its schedule.
    await order("order_renewing", { status: "valid", runAt: now + HOUR, updatedAt: cutoff - 3 * HOUR, notAfter: cutoff - 1 });
    await order("order_in_flight", { status: "processing", runAt: now, updatedAt: cutoff - 3 * HOUR });

    const challenge = (token: string, createdAt: number) => db.run(
      "INSERT INTO acme_challenges (token, tenant_id, partner_id, order_id, key_authorization, created_at) VALUES (?, 't_x', 'p_x', 'order_in_flight', 'k', ?)", [token, createdAt]);
    await challenge("left_by_a_crash", now - 25 * HOUR);
    await challenge("being_checked", now - 60_000);

    const job = new RetentionJob(db, { job: "credentials_retention", steps: SUBMISSIONS, windowMs: HOUR / 2, intervalMs: 1000, log: () => {} });
    expect(await job.runIfDue(now)).toEqual({ csrs_decided: 2, csrs_expired: 1, acme_orders_invalid: 1, acme_orders_done: 1, acme_challenges: 1 });
    expect(await ids(db, "SELECT id FROM pki_csrs")).toEqual(["csr_expired_lately", "csr_pending", "csr_signed_lately"]);
    expect(await ids(db, "SELECT id FROM acme_orders")).toEqual(["order_failed_lately", "order_in_flight", "order_renewing", "order_valid_till_later"]);
    expect(await ids(db, "SELECT token AS id FROM acme_challenges")).toEqual(["being_checked"]);
  });

  it("each prune statement finds its rows along an index, not through the table", async () => {
    const db = vault().vault.db;
    const expected: Record<string, RegExp> = {
      tokens_expired: /tokens_expiry/, tokens_revoked: /tokens_revoked/, leases: /dynamic_leases_due/, certificates_expired: /pki_certificates_live/, certificates_revoked: /pki_certificates_revoked_end/,
      csrs_decided: /pki_csrs_decided/, csrs_expired: /pki_csrs_pending/, acme_orders_invalid: /acme_orders_invalid/, acme_orders_done: /acme_orders_valid_end/, acme_challenges: /acme_challenges_created/,
    };
    for (const step of [...STEPS, ...SUBMISSIONS]) {
      expect(await pruneStepPlan(db, step), step.name).toMatch(expected[step.name]);
    }
  });
});

describeEachBackend("credential retention on a schedule", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_CREDENTIALS_RETENTION: "1s", SCAIVAULT_RETENTION_INTERVAL: "300ms" } });

  it("a node prunes an expired token once it is past SCAIVAULT_CREDENTIALS_RETENTION", async () => {
    const { admin, vault: server } = vault();
    const issued = await admin.post("/v1/auth/tokens", { identity_id: "sa:short", scopes: ["secrets:read"], expires_in: "1s" });
    expect(issued.status).toBe(201);
    const count = async () => Number((await server.db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM tokens WHERE id = ?", [issued.body.id]))?.n);
    expect(await count()).toBe(1);
    await eventually(count, (n) => n === 0, 30_000);
  }, 60_000);
});

describeEachBackend("credential retention switched off", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_CREDENTIALS_RETENTION: "off", SCAIVAULT_RETENTION_INTERVAL: "100ms" } });

  it("never takes the pass's lease, while the events pass on the same interval runs", async () => {
    const { db } = vault().vault;
    const lastEventsPass = async () => Number((await db.get<{ at: number | string }>("SELECT last_run_at AS at FROM maintenance_leases WHERE name = 'events_retention'"))?.at ?? 0);
    const first = await eventually(lastEventsPass, (at) => at > 0, 30_000);
    await eventually(lastEventsPass, (at) => at > first, 30_000);
    expect(await db.get("SELECT name FROM maintenance_leases WHERE name = 'credentials_retention'")).toBeUndefined();
  }, 60_000);
});
