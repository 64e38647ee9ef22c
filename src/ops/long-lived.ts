import type { Principal } from "../access/principal.js";
import type { AccessEpochs } from "../access/vault-tokens.js";
import type { LiveAdmission, TenantRef } from "../http/context.js";
import { VaultError } from "../http/errors.js";
import type { Admission } from "../http/pipeline.js";

export interface LongLivedOptions {
  maxPerIdentity: number;
  maxPerTenant: number;
  /** How often an open connection re-authenticates its credential. */
  recheckMs: number;
}

export interface StreamSlot extends LiveAdmission {
  release(): void;
}

/** Re-runs a request's authentication, tenant resolution and scope check (src/http/pipeline.ts). */
export type Readmit = () => Promise<Admission>;

const MAX_TIMER_MS = 2 ** 31 - 1;
const RETRY_AFTER_SECONDS = 5;

const sameCounters = (a: AccessEpochs, b: AccessEpochs) => a.access === b.access && a.revocations === b.revocations && a.policies === b.policies && a.directory === b.directory;

/** A verdict on the request's admission (401, 403) ends it; a storage hiccup (503) does not. */
function isVerdict(error: unknown): error is VaultError {
  return error instanceof VaultError && (error.status === 401 || error.status === 403);
}

/**
 * Event streams and long polls hold a connection for minutes. They have their own caps per
 * identity and per tenant instead of request-concurrency slots (twenty idle streams must not shut
 * out another tenant's admin), and they stay admitted only as long as the request would be now:
 * every `recheckMs` (and whenever the access counters moved, before the caller is used) the
 * request's own admission runs again, and a refusal ends them (a token's expiry exactly on time).
 */
export class LongLivedConnections {
  private readonly byIdentity = new Map<string, number>();
  private readonly byTenant = new Map<string, number>();

  constructor(private readonly options: LongLivedOptions, private readonly counters: () => Promise<AccessEpochs>) {}

  admit(principal: Principal, tenant: TenantRef, readmit: Readmit): StreamSlot {
    const identity = `${principal.partnerId}/${principal.identityId}`;
    const mine = this.byIdentity.get(identity) ?? 0;
    const tenants = this.byTenant.get(tenant.tenantId) ?? 0;
    if (mine >= this.options.maxPerIdentity) throw this.refusal("identity", this.options.maxPerIdentity);
    if (tenants >= this.options.maxPerTenant) throw this.refusal("tenant", this.options.maxPerTenant);
    this.byIdentity.set(identity, mine + 1);
    this.byTenant.set(tenant.tenantId, tenants + 1);

    const controller = new AbortController();
    let released = false;
    let admitted = { principal, tenant };
    // The counters read just before `admitted` was made; unknown for the first admission.
    let admittedUnder: AccessEpochs | null = null;
    let running: Promise<{ principal: Principal; tenant: TenantRef }> | null = null;
    const end = (error: VaultError) => {
      if (!controller.signal.aborted) controller.abort(error);
    };
    const again = (counters: AccessEpochs): Promise<{ principal: Principal; tenant: TenantRef }> => {
      if (running) return running;
      running = readmit()
        .then((next) => {
          // A route that needs a tenant was admitted with one, and is again (place() refuses otherwise).
          admitted = { principal: next.principal, tenant: next.tenant ?? admitted.tenant };
          admittedUnder = counters;
          return admitted;
        }, (error: unknown) => {
          if (isVerdict(error)) end(error);
          throw error;
        })
        .finally(() => (running = null));
      return running;
    };
    const expiry = principal.tokenExpiresAt !== null && principal.tokenExpiresAt - Date.now() < MAX_TIMER_MS
      ? setTimeout(() => end(new VaultError("token_expired", "The token has expired")), Math.max(0, principal.tokenExpiresAt - Date.now()))
      : null;
    // Also what notices a console session signed out or expired, which moves no counter.
    const recheck = setInterval(() => {
      if (running || controller.signal.aborted) return;
      this.counters().then(again).catch(() => undefined);
    }, this.options.recheckMs);
    recheck.unref();
    return {
      signal: controller.signal,
      current: async () => {
        for (;;) {
          if (controller.signal.aborted) throw controller.signal.reason;
          const counters = await this.counters();
          const under: AccessEpochs | null = admittedUnder;
          if (under && sameCounters(counters, under)) return admitted;
          // A re-admission already running may have begun before these counters moved: let it
          // finish, then compare again.
          if (!running) return again(counters);
          await running.catch(() => undefined);
        }
      },
      release: () => {
        if (released) return;
        released = true;
        clearInterval(recheck);
        if (expiry) clearTimeout(expiry);
        this.decrement(this.byIdentity, identity);
        this.decrement(this.byTenant, tenant.tenantId);
      },
    };
  }

  private decrement(counts: Map<string, number>, key: string): void {
    const left = (counts.get(key) ?? 1) - 1;
    if (left <= 0) counts.delete(key);
    else counts.set(key, left);
  }

  private refusal(scope: "identity" | "tenant", limit: number): VaultError {
    return new VaultError("rate_limited", `Too many open event streams and long polls for this ${scope}; close one or retry later`, {
      retryAfterSeconds: RETRY_AFTER_SECONDS,
      details: { category: "streams", reason: `streams_per_${scope}`, limit },
    });
  }

  counts(): { identities: number; tenants: number } {
    return { identities: this.byIdentity.size, tenants: this.byTenant.size };
  }
}
