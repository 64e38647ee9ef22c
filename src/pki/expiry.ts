import type { FastifyBaseLogger } from "fastify";
import { Gauge, type Registry } from "prom-client";
import type { EventOutbox, VaultEvent } from "../events/outbox.js";
import { randomBase62 } from "../shared/ids.js";
import { iso } from "../shared/time.js";
import type { Database } from "../storage/contract.js";
import { jsonList, PKI_IDENTITY } from "./common.js";
import type { CertRow } from "./store.js";
import { liveCertificateFigures, type LiveFigures } from "./live-figures.js";

const EXPIRED = "expired";
const BATCH = 100;
const DAY_MS = 86_400_000;

function label(ms: number): string {
  return ms % DAY_MS === 0 ? `${ms / DAY_MS}d` : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.round(ms / 1000)}s`;
}

/**
 * The first notice a certificate still owes: the first threshold not yet announced, then its expiry.
 * Thresholds already behind when a certificate is issued stay silent (as secrets' notices do).
 */
export function firstNotice(notAfter: number, thresholdsMs: number[], fired: ReadonlySet<string>): number | null {
  for (const t of thresholdsMs) if (!fired.has(label(t))) return notAfter - t;
  return fired.has(EXPIRED) ? null : notAfter;
}

export function initialNotice(notAfter: number, issuedAt: number, thresholdsMs: number[]): { fired: string; next: number | null } {
  const fired = new Set(thresholdsMs.filter((t) => notAfter - t <= issuedAt).map(label));
  return { fired: [...fired].join(","), next: firstNotice(notAfter, thresholdsMs, fired) };
}

/**
 * `certificate.expiring` at each SCAIVAULT_PKI_NOTIFY_BEFORE threshold and `certificate.expired` at
 * `not_after`, for unrevoked certificates. Every node may run it: a notice is claimed by a
 * conditional UPDATE of the certificate's `next_notice_at` in the transaction that stores the
 * event, so exactly one node's claim changes the row and only that node's event commits.
 */
export class ExpiryNotifier {
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(private readonly deps: { db: Database; events: EventOutbox; thresholdsMs: number[]; pollMs: number; log: FastifyBaseLogger }) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.loop = null;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.pass(Date.now());
      } catch (error) {
        this.deps.log.warn({ err: { name: (error as Error).name } }, "pki expiry notifier pass failed");
      }
      if (!this.running) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.deps.pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  /** One pass over every notice due at `now`; `force` runs it outside the loop (tests race two nodes' passes). */
  async pass(now: number, force = false): Promise<void> {
    const due = await this.deps.db.all<CertRow & { next_notice_at: number; notices_fired: string }>(
      "SELECT * FROM pki_certificates WHERE next_notice_at IS NOT NULL AND next_notice_at <= ? AND revoked_at IS NULL ORDER BY next_notice_at LIMIT ?",
      [now, BATCH],
    );
    for (const row of due) if (this.running || force) await this.fire(row, now);
  }

  private async fire(row: CertRow & { next_notice_at: number; notices_fired: string }, now: number): Promise<void> {
    const notAfter = Number(row.not_after);
    const claimed = Number(row.next_notice_at);
    const fired = new Set((row.notices_fired ?? "").split(",").filter(Boolean));
    const passed = this.deps.thresholdsMs.filter((t) => !fired.has(label(t)) && notAfter - t <= now);
    for (const t of passed) fired.add(label(t));
    const expired = notAfter <= now;
    if (expired) fired.add(EXPIRED);
    const next = firstNotice(notAfter, this.deps.thresholdsMs, fired);
    const stored: VaultEvent[] = [];
    await this.deps.db.transaction(async (tx) => {
      const claim = await tx.run("UPDATE pki_certificates SET next_notice_at = ?, notices_fired = ? WHERE id = ? AND next_notice_at = ?", [next, [...fired].join(","), row.id, claimed]);
      // Another node claimed this notice first, or the certificate was revoked meanwhile.
      if (claim.changes === 0 || row.revoked_at !== null) return;
      const base = {
        tenant_id: row.tenant_id, partner_id: row.partner_id, identity_id: PKI_IDENTITY, path: row.secret_path, request_id: `req_${randomBase62(20)}`,
      };
      const data = { certificate_id: row.id, serial_number: row.serial_number, common_name: row.common_name, alt_names: jsonList(row.alt_names), not_after: iso(notAfter), ca_id: row.ca_id, role: row.role, source: row.source, order_id: row.order_id };
      if (expired) stored.push(await this.deps.events.append(tx, { ...base, event_type: "certificate.expired", data }));
      else if (passed.length > 0) {
        // After downtime only the nearest passed threshold is announced.
        const nearest = passed[passed.length - 1];
        stored.push(await this.deps.events.append(tx, { ...base, event_type: "certificate.expiring", data: { ...data, threshold: label(nearest), days_remaining: Math.floor((notAfter - now) / DAY_MS), seconds_remaining: Math.floor((notAfter - now) / 1000) } }));
      }
    });
    this.deps.events.published(stored);
  }
}

/**
 * The docs' `scaivault_certificates_*` gauges, read from the database at scrape time, which anyone
 * may ask for (SPEC §8): both from one reading of the live certificates (live-figures.ts), shared by
 * the two gauges of a scrape.
 */
export function registerCertificateMetrics(db: Database, stored: Registry): void {
  let reading: { at: number; figures: Promise<LiveFigures> } | null = null;
  // A scrape collects both gauges at once: the second takes the first's reading.
  const figures = (): Promise<LiveFigures> => {
    const now = Date.now();
    if (!reading || now - reading.at > 1_000) {
      const current = { at: now, figures: liveCertificateFigures(db, now) };
      // A failed reading is not kept: the next scrape reads again.
      current.figures.catch(() => void (reading === current && (reading = null)));
      reading = current;
    }
    return reading.figures;
  };
  new Gauge({
    name: "scaivault_certificates_active",
    help: "Unrevoked, unexpired certificates by issuing CA",
    labelNames: ["ca_id"],
    registers: [stored],
    async collect() {
      const { byCa } = await figures();
      this.reset();
      for (const [caId, n] of byCa) this.set({ ca_id: caId }, n);
    },
  });
  new Gauge({
    name: "scaivault_certificates_expiring_soon",
    help: "Unrevoked certificates expiring within 7 or 30 days",
    labelNames: ["within_days"],
    registers: [stored],
    async collect() {
      const { week, month } = await figures();
      this.set({ within_days: "7" }, week);
      this.set({ within_days: "30" }, month);
    },
  });
}
