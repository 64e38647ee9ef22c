import { pruneById, pruneByKey, type PruneStep } from "../ops/retention.js";

/** An http-01 challenge is answered for the minutes a CA takes to check it; one older than this was left by a crash. */
const CHALLENGE_MAX_AGE_MS = 86_400_000;

type SubmissionStep = "csrs_decided" | "csrs_expired" | "acme_orders_invalid" | "acme_orders_done" | "acme_challenges";

/**
 * What `pki:issue` callers submit (CSRs at 50 a minute, ACME orders at 30) leaves a row each; these
 * go with the credential retention window (SCAIVAULT_CREDENTIALS_RETENTION), as certificates do:
 * - a signed or rejected CSR a window after its decision, an expired one a window after it expired
 *   (SCAIVAULT_PKI_CSR_TTL after its submission; the audit trail keeps every decision);
 * - an ACME order that failed (`invalid`, nothing scheduled) a window after it failed, a valid one that
 *   does not renew a window after its certificate's end (the certificate itself goes then too);
 *   an order that renews is kept, it is live;
 * - an http-01 challenge row a crash left between its insert and its delete, after a day: it would
 *   be served at `/.well-known/acme-challenge/` for ever otherwise.
 * Each along an index of migration 0212.
 */
export function endedSubmissions(csrTtlMs: number): PruneStep<SubmissionStep>[] {
  return [
    { name: "csrs_decided", sql: pruneById("pki_csrs", "state <> 'pending' AND decided_by IS NOT NULL AND updated_at < ?"), params: (cutoff) => [cutoff] },
    // A pending CSR is never updated: its `updated_at` is its submission. (The `IS NULL`/`IS NOT NULL`
    // terms hold for every row in that state; they name the partial index, see migration 0212.)
    { name: "csrs_expired", sql: pruneById("pki_csrs", "state = 'pending' AND certificate_id IS NULL AND updated_at < ?"), params: (cutoff) => [cutoff - csrTtlMs] },
    // Nothing scheduled (`run_at`): a renewal asked for or under way keeps the order. The unary `+`
    // keeps SQLite off `acme_orders_run`, which holds every finished order under NULL.
    { name: "acme_orders_invalid", sql: pruneById("acme_orders", "status = 'invalid' AND error IS NOT NULL AND +run_at IS NULL AND updated_at < ?"), params: (cutoff) => [cutoff] },
    { name: "acme_orders_done", sql: pruneById("acme_orders", "status = 'valid' AND certificate_id IS NOT NULL AND +run_at IS NULL AND not_after < ?"), params: (cutoff) => [cutoff] },
    { name: "acme_challenges", sql: pruneByKey("acme_challenges", "token", "created_at < ?"), params: (_cutoff, now) => [now - CHALLENGE_MAX_AGE_MS] },
  ];
}
