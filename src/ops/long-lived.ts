import type { Principal } from "../access/principal.js";
import { VaultError } from "../http/errors.js";

export interface LongLivedOptions {
  maxPerIdentity: number;
  maxPerTenant: number;
  /** How often an open connection re-authenticates its credential. */
  recheckMs: number;
}

export interface StreamSlot {
  /** Aborted (reason: the VaultError to end with) when the credential is revoked or expires. */
  signal: AbortSignal;
  release(): void;
}

const MAX_TIMER_MS = 2 ** 31 - 1;
const RETRY_AFTER_SECONDS = 5;

/**
 * Event streams and long polls hold a connection for minutes. They have their own caps per
 * identity and per tenant instead of request-concurrency slots (twenty idle streams must not shut
 * out another tenant's admin), and they re-check their credential while open: a revoked or
 * expired token ends them within `recheckMs` (expiry exactly on time).
 */
export class LongLivedConnections {
  private readonly byIdentity = new Map<string, number>();
  private readonly byTenant = new Map<string, number>();

  constructor(private readonly options: LongLivedOptions, private readonly authenticate: (authorization: string | undefined) => Promise<Principal>) {}

  admit(principal: Principal, tenantId: string, authorization: string | undefined): StreamSlot {
    const identity = `${principal.partnerId}/${principal.identityId}`;
    const mine = this.byIdentity.get(identity) ?? 0;
    const tenants = this.byTenant.get(tenantId) ?? 0;
    if (mine >= this.options.maxPerIdentity) throw this.refusal("identity", this.options.maxPerIdentity);
    if (tenants >= this.options.maxPerTenant) throw this.refusal("tenant", this.options.maxPerTenant);
    this.byIdentity.set(identity, mine + 1);
    this.byTenant.set(tenantId, tenants + 1);

    const controller = new AbortController();
    let released = false;
    let checking = false;
    const end = (error: VaultError) => {
      if (!controller.signal.aborted) controller.abort(error);
    };
    const expiry = principal.tokenExpiresAt !== null && principal.tokenExpiresAt - Date.now() < MAX_TIMER_MS
      ? setTimeout(() => end(new VaultError("token_expired", "The token has expired")), Math.max(0, principal.tokenExpiresAt - Date.now()))
      : null;
    const recheck = setInterval(() => {
      if (checking || controller.signal.aborted) return;
      checking = true;
      this.authenticate(authorization).then(
        () => (checking = false),
        (error: unknown) => {
          checking = false;
          // Only a verdict on the credential ends the connection; a storage hiccup does not.
          if (error instanceof VaultError && error.status === 401) end(error);
        },
      );
    }, this.options.recheckMs);
    recheck.unref();
    return {
      signal: controller.signal,
      release: () => {
        if (released) return;
        released = true;
        clearInterval(recheck);
        if (expiry) clearTimeout(expiry);
        this.decrement(this.byIdentity, identity);
        this.decrement(this.byTenant, tenantId);
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
