import type { Transport } from "./transport.js";
import type { Page } from "./types.js";

const enc = encodeURIComponent;
type Body = Record<string, unknown>;

/** A lease as the API shows it (spec/dynamic.md D5); `data` only in the answer that created it. */
export interface Lease {
  lease_id: string;
  engine: string;
  role: string;
  state: "active" | "revoked" | "expired" | "revoke_failed";
  identity_id: string;
  username: string;
  lease_duration: number;
  renewable: boolean;
  expires_at: string;
  max_expires_at: string;
  created_at: string;
  last_renewed_at: string | null;
  revoked_at: string | null;
  revoke_reason: string | null;
  revoke_attempts: number;
  last_error: string | null;
  next_retry_at: string | null;
  serial_number?: string;
}

/** Database credentials (`username`, `password`) or, for SSH engines, a signed certificate. */
export interface LeaseWithData extends Lease {
  data: Record<string, unknown> & { username?: string; password?: string; signed_key?: string };
}

export interface CredsOptions {
  /** Requested lifetime (`15m`, `1h`), capped by the role's max_ttl. */
  ttl?: string;
  /** SSH engines: the OpenSSH public key to sign, and the principals wanted. */
  publicKey?: string;
  validPrincipals?: string[];
}

/** Dynamic credentials: `client.dynamic.creds("support-db", "readonly")`, then renew or revoke the lease. */
export class DynamicResource {
  constructor(private readonly http: Transport) {}

  /** Generates credentials; never retried after a lost answer (each call creates a user at the source). */
  creds(engine: string, role: string, options: CredsOptions = {}): Promise<LeaseWithData> {
    const body: Body = {};
    if (options.ttl !== undefined) body.ttl = options.ttl;
    if (options.publicKey !== undefined) body.public_key = options.publicKey;
    if (options.validPrincipals !== undefined) body.valid_principals = options.validPrincipals;
    return this.http.request<LeaseWithData>({ method: "POST", path: `/v1/dynamic/engines/${enc(engine)}/creds/${enc(role)}`, body });
  }

  lease(leaseId: string): Promise<Lease> {
    return this.http.request<Lease>({ method: "GET", path: `/v1/dynamic/leases/${enc(leaseId)}` });
  }

  async leases(query: { engine?: string; role?: string; state?: string; identity_id?: string; limit?: number; cursor?: string } = {}): Promise<Page<Lease>> {
    const answer = await this.http.request<{ data: Lease[]; cursor: string | null; has_more: boolean }>({ method: "GET", path: "/v1/dynamic/leases", query });
    return { data: answer.data, cursor: answer.cursor, hasMore: answer.has_more };
  }

  /** Extends the lease by `increment` (default: the role's default_ttl), never past its max. */
  renew(leaseId: string, options: { increment?: string } = {}): Promise<Lease> {
    return this.http.request<Lease>({ method: "POST", path: `/v1/dynamic/leases/${enc(leaseId)}/renew`, body: options.increment ? { increment: options.increment } : {}, idempotent: true });
  }

  /** Revokes at the source before answering; revoking an ended lease is a no-op. */
  revoke(leaseId: string): Promise<Lease> {
    return this.http.request<Lease>({ method: "POST", path: `/v1/dynamic/leases/${enc(leaseId)}/revoke`, body: {}, idempotent: true });
  }

  revokePrefix(prefix: string): Promise<{ revoked: number; failed: number; lease_ids: string[] }> {
    return this.http.request({ method: "POST", path: "/v1/dynamic/leases/revoke-prefix", body: { prefix }, idempotent: true });
  }

  /**
   * Renews the lease whenever `fraction` of its remaining time has passed, until stopped or it can
   * no longer be renewed (max_ttl reached, revoked): `onEnd` hears why. Returns a stop function.
   */
  keepRenewed(lease: Lease, handlers: { onRenew?: (lease: Lease) => void; onEnd?: (reason: unknown) => void } = {}, fraction = 2 / 3): () => void {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const schedule = (current: Lease) => {
      if (stopped) return;
      if (!current.renewable) return handlers.onEnd?.("max_ttl");
      const wait = Math.max(1000, (Date.parse(current.expires_at) - Date.now()) * fraction);
      timer = setTimeout(async () => {
        try {
          const next = await this.renew(current.lease_id);
          handlers.onRenew?.(next);
          schedule(next);
        } catch (error) {
          handlers.onEnd?.(error);
        }
      }, wait);
      (timer as { unref?: () => void }).unref?.();
    };
    schedule(lease);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }

  listEngines(): Promise<{ data: Body[] }> {
    return this.http.request({ method: "GET", path: "/v1/dynamic/engines" });
  }
  createEngine(engine: Body): Promise<Body> {
    return this.http.request({ method: "POST", path: "/v1/dynamic/engines", body: engine });
  }
  createRole(engine: string, role: Body): Promise<Body> {
    return this.http.request({ method: "POST", path: `/v1/dynamic/engines/${enc(engine)}/roles`, body: role });
  }
  rotateRoot(engine: string): Promise<{ engine: string; rotated_at: string; version: number }> {
    return this.http.request({ method: "POST", path: `/v1/dynamic/engines/${enc(engine)}/rotate-root`, body: {} });
  }
}
