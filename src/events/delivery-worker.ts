import { randomBytes, randomInt } from "node:crypto";
import type { AuditRecorder } from "../audit/recorder.js";
import type { Database } from "../storage/contract.js";
import { nextTurn } from "../shared/turn.js";
import { toEvent, type DeliveryRow, type DeliveryStore, type Outcome } from "./delivery-store.js";
import { DeliverySlots } from "./delivery-slots.js";
import { DISPATCH_BATCH, type Dispatcher } from "./dispatcher.js";
import { sendWebhook, type SendResult } from "./sender.js";
import { signatureFor, type SignatureScheme, type SigningSecrets } from "./signing.js";
import type { TargetsStore } from "./targets-store.js";

export interface WorkerOptions {
  retryScheduleMs: number[];
  timeoutMs: number;
  pollIntervalMs: number;
  allowPrivate: boolean;
}

interface PushTarget {
  url: string;
  scheme: SignatureScheme;
  secret: string;
  previousSecret: string | null;
  enabled: boolean;
}

const MAX_RETRY_AFTER_MS = 24 * 3_600_000;
/** Slots an ending attempt waits to see free before it claims, when every slot was taken. */
const ENDED_BATCH = 4;

/** ±10 % so that many receivers failing together do not retry in lockstep. */
function jitter(ms: number): number {
  const spread = Math.floor(ms / 10);
  return spread > 0 ? ms - spread + randomInt(0, 2 * spread + 1) : ms;
}

/**
 * Delivers leased deliveries: at least once (a lease that runs out is taken again), in order per
 * target and path (see DeliveryStore.claim), signed afresh on every attempt, retried on the
 * configured schedule honouring `Retry-After`, and `410 Gone` disables the target.
 */
export class DeliveryWorker {
  private readonly owner = `node_${randomBytes(8).toString("hex")}`;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  /** Whether a round asked for since the last one began must look for due deliveries (see kick). */
  private claimWanted = false;
  private soon: NodeJS.Immediate | null = null;
  private stopped = true;
  private readonly wakeups = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly slots = new DeliverySlots();
  /** The slots' refill in progress, and whether another was asked for meanwhile (one runs at a time). */
  private filling: Promise<void> | null = null;
  private fillAgain = false;
  /**
   * What the last fill left waiting, which decides when an ending attempt claims again (besides
   * its own next sibling, which it held back): `none` (the fill got less than it asked for),
   * `over-share` (only tenants past their share: the reserve is not theirs), `any` (every slot was
   * taken: anyone may be waiting).
   */
  private waiting: "none" | "over-share" | "any" = "none";

  constructor(
    private readonly deps: { db: Database; audit: AuditRecorder; targets: TargetsStore; deliveries: DeliveryStore; secrets: SigningSecrets; dispatcher: Dispatcher; log: (msg: string, extra?: Record<string, unknown>) => void; onAttempt?: (outcome: "success" | "failure" | "blocked") => void },
    private readonly options: WorkerOptions,
  ) {}

  private get leaseMs(): number {
    return this.options.timeoutMs * 2 + 5000;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.timer = setInterval(() => this.kick(), this.options.pollIntervalMs);
    this.timer.unref();
    this.kick();
  }

  /** Stops taking work and waits for attempts in flight to be recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearImmediate(this.soon);
    this.soon = null;
    for (const t of this.wakeups) clearTimeout(t);
    this.wakeups.clear();
    await this.running;
    await this.filling;
    await Promise.allSettled([...this.inFlight]);
  }

  /**
   * A round on the next turn of the event loop: every commit of this turn (a group commit settles
   * many writes at once) is fanned out by one pass instead of a round being started per event.
   */
  kickSoon(): void {
    if (this.stopped || this.soon) return;
    this.soon = setImmediate(() => {
      this.soon = null;
      this.kick(false);
    });
  }

  /**
   * Fan out new events, then deliver what is due. Coalesces calls made while a round runs.
   * `claim` false (a commit's kick): deliveries are looked for only when this round's passes made
   * some. A commit makes no delivery by itself; retries, other nodes' deliveries and redeliveries
   * come with the poll, a retry's timer or their own kick (issue 14: one read less per commit).
   */
  kick(claim = true): void {
    if (this.stopped) return;
    this.claimWanted ||= claim;
    if (this.running) {
      this.again = true;
      return;
    }
    const claimNow = this.claimWanted;
    this.claimWanted = false;
    this.running = this.round(claimNow).finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.kick(false);
      }
    });
  }

  private async round(claim: boolean): Promise<void> {
    try {
      // Again only after a full batch: a shorter one emptied the outbox as of its peek. Events
      // committed since were published here (kickSoon: another round follows this one) or on
      // another node (the poll finds them); a further peek would find nothing, and a peek costs
      // ~100 µs on SQLite under write load (issue 14, benchmarks round 10).
      let delivered = 0;
      while (!this.stopped) {
        const { events, deliveries } = await this.deps.dispatcher.pass();
        delivered += deliveries;
        if (events < DISPATCH_BATCH) break;
        // A turn between passes: on SQLite a pass never waits, so a burst's backlog (a CA
        // revocation's 10,000 events) was one turn of the loop, every request held behind it.
        await nextTurn();
      }
      if (!claim && delivered === 0) return;
      // Not awaited: a backlog's refills run on as attempts end, and the next round's fan-out must not wait for them.
      void this.refill();
    } catch (error) {
      this.roundFailed(error);
    }
  }

  /** Storage and programming errors only: no secret reaches these messages. */
  private roundFailed(error: unknown): void {
    this.deps.log("event delivery round failed", { err: { name: (error as Error).name, kind: (error as { kind?: string }).kind, message: (error as Error).message } });
  }

  /** Fills the free slots (one refill at a time; one asked for meanwhile runs after it). */
  private refill(): Promise<void> {
    if (this.filling) {
      this.fillAgain = true;
      return this.filling;
    }
    this.filling = (async () => {
      try {
        do {
          this.fillAgain = false;
          await this.fill();
        } while (this.fillAgain && !this.stopped);
      } catch (error) {
        this.roundFailed(error);
      } finally {
        this.filling = null;
      }
    })();
    return this.filling;
  }

  /**
   * A claim is a write transaction: an ending attempt asks for one only when something waits and
   * enough slots are free for it to take several, not per delivery (a claim each cut a SQLite
   * node's rate to fast receivers by a third). A round (commits that made deliveries, the poll,
   * retry timers) claims for any free slot.
   */
  private async attemptEnded(row: DeliveryRow): Promise<void> {
    this.slots.end(row.tenant_id);
    if (this.stopped) return;
    const free = this.slots.free();
    const worth =
      free === this.slots.slots ||
      (this.waiting === "any" && free >= ENDED_BATCH) ||
      (this.waiting === "over-share" && free - this.slots.reserve >= this.slots.slots / 4) ||
      // Its next delivery to the same target and path was held back by it, and may go now.
      (await this.deps.deliveries.hasLaterSibling(row));
    if (worth && !this.stopped) void this.refill();
  }

  /**
   * Claims due deliveries for the free slots and starts their attempts without waiting for them:
   * ending attempts refill their slots (attemptEnded). A claim that finds only deliveries of
   * tenants past their share is asked again without them (DeliverySlots), so it ends once every
   * slot is taken, nothing is due, or what is due waits for its tenant's slots.
   */
  private async fill(): Promise<void> {
    // Tenants left out of a claim (or refused in it) may have deliveries waiting.
    let overShare = false;
    while (!this.stopped && this.slots.free() > 0) {
      const limit = this.slots.free();
      const excluded = this.slots.excluded();
      const { claimed, refused } = await this.deps.deliveries.claim(this.owner, Date.now(), this.leaseMs, limit, { excluded, accept: this.slots.chooser() });
      for (const row of claimed) {
        this.slots.start(row.tenant_id);
        void this.track(this.attempt(row).catch((error) => this.failed(row, error)))
          .then(() => this.attemptEnded(row))
          .catch((error) => this.roundFailed(error));
      }
      overShare ||= refused > 0 || excluded.length > 0;
      // Fewer than asked for: nothing more is claimable now. Only refusals: ask again without their tenants.
      if ((refused === 0 && claimed.length < limit) || (claimed.length === 0 && this.slots.excluded().length === 0)) {
        this.waiting = overShare ? "over-share" : "none";
        return;
      }
    }
    this.waiting = "any";
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    return work.finally(() => this.inFlight.delete(work));
  }

  private async target(row: DeliveryRow): Promise<PushTarget | null> {
    if (row.target_kind === "webhook") {
      const hook = await this.deps.targets.webhookById(row.target_id);
      if (!hook) return null;
      const previousValid = hook.previous_secret_sealed && (hook.previous_secret_expires_at ?? 0) > Date.now();
      return {
        url: hook.url,
        scheme: hook.signature_scheme as SignatureScheme,
        secret: await this.deps.secrets.open(hook.id, "current", hook.secret_sealed),
        previousSecret: previousValid ? await this.deps.secrets.open(hook.id, "previous", hook.previous_secret_sealed as Buffer) : null,
        enabled: hook.enabled === 1,
      };
    }
    const sub = await this.deps.targets.subscriptionById(row.target_id);
    if (!sub || !sub.url || !sub.secret_sealed) return null;
    return { url: sub.url, scheme: sub.signature_scheme as SignatureScheme, secret: await this.deps.secrets.open(sub.id, "current", sub.secret_sealed), previousSecret: null, enabled: sub.status === "active" };
  }

  /** One attempt at a leased delivery, its outcome recorded. */
  async attempt(row: DeliveryRow, options: { retry?: boolean } = {}): Promise<SendResult | null> {
    const now = Date.now();
    const attempts = row.attempts + 1;
    const target = await this.target(row);
    const eventRow = await this.deps.deliveries.event(row.event_id);
    if (!target || !target.enabled || !eventRow) {
      await this.settle(row, { status: "failed", attempts: row.attempts, next_attempt_at: now, response_code: null, last_error: !eventRow ? "event no longer stored" : "target deleted or disabled", duration_ms: null, delivered_at: null });
      return null;
    }
    const body = JSON.stringify(toEvent(eventRow));
    const timestamp = Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "ScaiVault-Webhook/1.0",
      "x-scaivault-event-id": row.event_id,
      "x-scaivault-event-type": row.event_type,
      "x-scaivault-delivery-id": row.id,
      "x-scaivault-timestamp": String(timestamp),
      "x-scaivault-signature": signatureFor(target.scheme, target.secret, timestamp, body),
    };
    // During a signing-secret overlap, receivers still holding the old secret can check this one.
    if (target.previousSecret) headers["x-scaivault-signature-previous"] = signatureFor(target.scheme, target.previousSecret, timestamp, body);
    const result = await sendWebhook({ url: target.url, body, headers, timeoutMs: this.options.timeoutMs, allowPrivate: this.options.allowPrivate });
    const base = { attempts, response_code: result.status, last_error: result.error, duration_ms: result.durationMs };
    this.deps.onAttempt?.(result.ok ? "success" : result.error?.startsWith("ssrf_blocked") ? "blocked" : "failure");
    if (result.ok) {
      await this.settle(row, { ...base, status: "success", next_attempt_at: now, delivered_at: Date.now() });
    } else if (result.gone) {
      await this.settle(row, { ...base, status: "failed", next_attempt_at: now, delivered_at: null });
      await this.disable(row);
    } else if (options.retry === false || attempts > this.options.retryScheduleMs.length) {
      await this.settle(row, { ...base, status: "failed", next_attempt_at: now, delivered_at: null });
    } else {
      let delay = jitter(this.options.retryScheduleMs[attempts - 1]);
      if (result.retryAfterSeconds !== null) delay = Math.max(delay, Math.min(result.retryAfterSeconds * 1000, MAX_RETRY_AFTER_MS));
      await this.settle(row, { ...base, status: "pending", next_attempt_at: Date.now() + delay, delivered_at: null });
      this.wakeAfter(delay);
    }
    return result;
  }

  /** An attempt that threw (storage, a sealed secret that does not open) counts as a failed attempt. */
  private async failed(row: DeliveryRow, error: unknown): Promise<void> {
    this.deps.log("event delivery attempt failed", { delivery_id: row.id, err: { name: (error as Error).name, kind: (error as { kind?: string }).kind } });
    const attempts = row.attempts + 1;
    const final = attempts > this.options.retryScheduleMs.length;
    const delay = final ? 0 : jitter(this.options.retryScheduleMs[attempts - 1]);
    await this.settle(row, { status: final ? "failed" : "pending", attempts, next_attempt_at: Date.now() + delay, response_code: null, last_error: "internal error", duration_ms: null, delivered_at: null }).catch(() => undefined);
  }

  /**
   * Records an outcome; a final one (success or failed) also gets its audit entry
   * (`webhook_delivery` or `subscription_event`) in the same transaction.
   */
  private async settle(row: DeliveryRow, outcome: Outcome): Promise<void> {
    await this.deps.db.transaction(async (tx) => {
      const mine = await this.deps.deliveries.settle(row.id, row.lease_owner as string, outcome, tx);
      if (!mine || outcome.status === "pending") return;
      await this.deps.audit.recordSystem(tx, {
        partnerId: row.partner_id,
        tenantId: row.tenant_id,
        action: row.target_kind === "webhook" ? "webhook_delivery" : "subscription_event",
        identityId: "system:event-delivery",
        secretPath: row.ordering_key === "" ? null : row.ordering_key,
        success: outcome.status === "success",
        requestId: `req_${row.id}`,
        extraData: { delivery_id: row.id, event_id: row.event_id, event_type: row.event_type, target_id: row.target_id, attempts: outcome.attempts, response_code: outcome.response_code, error: outcome.last_error },
      });
    });
  }

  private async disable(row: DeliveryRow): Promise<void> {
    if (row.target_kind === "webhook") await this.deps.targets.disableWebhook(row.target_id, "receiver answered 410 Gone");
    else await this.deps.targets.disableSubscription(row.target_id);
    await this.deps.deliveries.failOpen(row.target_id, "target disabled after 410 Gone");
    this.deps.log("event target disabled after 410 Gone", { target_id: row.target_id });
  }

  /** Retries sooner than the poll interval get a timer of their own. */
  private wakeAfter(delay: number): void {
    if (this.stopped || delay >= this.options.pollIntervalMs) return;
    const t = setTimeout(() => {
      this.wakeups.delete(t);
      this.kick();
    }, delay + 5);
    t.unref();
    this.wakeups.add(t);
  }
}
