import type { EventOutbox } from "../events/outbox.js";
import type { SecretRow, SecretStore } from "../secrets/store.js";
import { DEFAULT_NOTIFY_BEFORE } from "../secrets/view.js";
import { iso } from "../shared/time.js";
import type { Database, Queryable } from "../storage/contract.js";
import { eventBase, systemCaller, withEvents } from "./actor.js";
import { storedThresholds, type Threshold } from "./cycle.js";
import type { ScheduleStore, WatchRow } from "./schedule-store.js";

export const EXPIRY_IDENTITY = "system:expiry-monitor";
const EXPIRED = "expired";
const DAY_MS = 86_400_000;

function thresholdsOf(notifyBefore: string | null): Threshold[] {
  return storedThresholds(notifyBefore ?? DEFAULT_NOTIFY_BEFORE);
}

/** The next notice: the first unannounced threshold, then the expiry itself. */
function nextFire(watch: Pick<WatchRow, "expires_at" | "notify_before">, fired: ReadonlySet<string>): number | null {
  for (const t of thresholdsOf(watch.notify_before)) if (!fired.has(t.text)) return watch.expires_at - t.ms;
  return fired.has(EXPIRED) ? null : watch.expires_at;
}

/**
 * `secret.expiring` at each `notify_before` threshold and `secret.expired` at `expires_at`, one
 * watch row per secret and expiry; thresholds already behind when an expiry is set stay silent.
 */
export class ExpiryMonitor {
  constructor(private readonly deps: { db: Database; events: EventOutbox; schedules: ScheduleStore; secretStore: SecretStore }) {}

  /**
   * Called in every secret write's transaction (and by reconciliation for metadata changes).
   * `known`: the watch as the caller already read it, locked, in this transaction.
   */
  async sync(tx: Queryable, secret: SecretRow, now: number, known?: { watch: WatchRow | undefined }): Promise<void> {
    const watch = known ? known.watch : await this.deps.schedules.getWatch(tx, secret.tenant_id, secret.path);
    if (secret.expires_at === null) {
      if (watch) await this.deps.schedules.deleteWatch(tx, secret.tenant_id, secret.path);
      return;
    }
    if (watch && watch.expires_at === secret.expires_at && (watch.notify_before ?? "") === (secret.notify_before ?? "")) return;
    const fired = new Set(thresholdsOf(secret.notify_before).filter((t) => secret.expires_at! - t.ms <= now).map((t) => t.text));
    const base = { expires_at: secret.expires_at, notify_before: secret.notify_before };
    await this.deps.schedules.putWatch(tx, {
      tenant_id: secret.tenant_id,
      path: secret.path,
      partner_id: secret.partner_id,
      ...base,
      fired: [...fired].join(","),
      next_fire_at: nextFire(base, fired),
    });
  }

  async syncPath(tenantId: string, path: string): Promise<void> {
    await withEvents(this.deps.db, this.deps.events, async (tx) => {
      const secret = await this.deps.secretStore.lock(tx, tenantId, path);
      if (!secret) await this.deps.schedules.deleteWatch(tx, tenantId, path);
      else await this.sync(tx, secret, Date.now());
    });
  }

  async fire(tenantId: string, path: string): Promise<void> {
    await withEvents(this.deps.db, this.deps.events, async (tx, emit) => {
      const secret = await this.deps.secretStore.lock(tx, tenantId, path);
      const watch = await this.deps.schedules.getWatch(tx, tenantId, path);
      const now = Date.now();
      if (!watch || watch.next_fire_at === null || watch.next_fire_at > now) return;
      if (!secret || secret.expires_at !== watch.expires_at) {
        if (secret) await this.sync(tx, secret, now);
        else await this.deps.schedules.deleteWatch(tx, tenantId, path);
        return;
      }
      const caller = systemCaller(EXPIRY_IDENTITY, tenantId, watch.partner_id);
      const fired = new Set(watch.fired.split(",").filter(Boolean));
      const live = secret.deleted_at === null;
      const passed = thresholdsOf(watch.notify_before).filter((t) => !fired.has(t.text) && watch.expires_at - t.ms <= now);
      for (const t of passed) fired.add(t.text);
      const base = { ...eventBase(caller, path), data: { version: secret.current_version, secret_type: secret.secret_type, expires_at: iso(watch.expires_at) } };
      if (watch.expires_at <= now) {
        fired.add(EXPIRED);
        if (live) await emit({ ...base, event_type: "secret.expired" });
      } else if (passed.length > 0 && live) {
        // After downtime only the nearest passed threshold is announced.
        const nearest = passed[passed.length - 1];
        const msLeft = watch.expires_at - now;
        await emit({ ...base, event_type: "secret.expiring", data: { ...base.data, days_remaining: Math.floor(msLeft / DAY_MS), seconds_remaining: Math.floor(msLeft / 1000), threshold: nearest.text } });
      }
      await this.deps.schedules.putWatch(tx, { ...watch, fired: [...fired].join(","), next_fire_at: nextFire(watch, fired) });
    });
  }
}
