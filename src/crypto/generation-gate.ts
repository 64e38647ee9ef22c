import { VaultError } from "../http/errors.js";

export interface GenerationGateOptions {
  /** Expensive generations running at once on this node (SCAIVAULT_KEYGEN_CONCURRENCY). */
  concurrency: number;
  /** Waiting generations per tenant beyond which the next is refused. */
  maxWaitingPerTenant: number;
  /** How long a generation may wait for its turn before it is refused. */
  maxWaitMs: number;
  /**
   * Once a tenant's oldest waiting work has waited this long (default 1 s) the tenant's newest is
   * started first, until its queue is fresh again.
   */
  newestFirstAfterMs?: number;
}

interface Waiter {
  start: () => void;
  timer: NodeJS.Timeout;
  since: number;
}

/** Given up by whoever asked for it (the client closed its request): refused as it waits, never started. */
export type Abandonment = AbortSignal | undefined;

/**
 * The node's expensive generations — RSA key pairs (0.1–0.3 s of a core at 2048 bits, 0.4–2.6 s at
 * 4096) and bcrypt hashes (1.1 s at 14 rounds) — run a few at a time, taken in turn across tenants.
 * Unbounded, a tenant's `pki:issue` callers on an RSA-4096 role (50 a minute per identity) or its
 * administrator previewing a recipe of many key pairs kept a core busy per caller, taking the node
 * from every other tenant. Here at most `concurrency` run; waiting ones are queued per tenant and
 * started round-robin, so one tenant's flood waits behind itself while another tenant's request
 * waits for one turn at most. A tenant with `maxWaitingPerTenant` waiting, or a wait past
 * `maxWaitMs`, gets 503 `service_unavailable` (reason `generation_busy`) with a Retry-After.
 * Work whose request was abandoned while it waited (`abandoned` aborted: a client that timed out
 * and perhaps retried) leaves the queue at once and never runs: a client that gives up before its
 * turn would otherwise have every key it no longer waits for made anyway, ahead of the work of
 * those still waiting. For the same reason a tenant's queue is served oldest first only while it is
 * fresh: once its oldest has waited `newestFirstAfterMs` the tenant is behind, and its newest work
 * goes first (adaptive LIFO). Served oldest first, a backlog would start only work that has
 * already waited nearly as long as its client will (most clients give up after a few seconds and
 * retry), finish it after the client left, and deliver almost nothing; newest first, the work
 * started is the work whose client has the most patience left, and the oldest wait runs out
 * (client timeout, or `maxWaitMs`) without costing a key.
 */
export class GenerationGate {
  private running = 0;
  /** Tenants with waiting work, in turn order (a Map keeps insertion order: served tenants go last). */
  private readonly waiting = new Map<string, Waiter[]>();

  constructor(private readonly options: GenerationGateOptions) {}

  /** Generations waiting for a turn on this node. */
  get waitingCount(): number {
    let n = 0;
    for (const queue of this.waiting.values()) n += queue.length;
    return n;
  }

  async run<T>(tenantId: string, work: () => Promise<T>, abandoned?: Abandonment): Promise<T> {
    await this.turn(tenantId, abandoned);
    try {
      return await work();
    } finally {
      this.running--;
      this.startNext();
    }
  }

  private turn(tenantId: string, abandoned: Abandonment): Promise<void> {
    if (abandoned?.aborted) return Promise.reject(gone());
    if (this.running < this.options.concurrency && this.waiting.size === 0) {
      this.running++;
      return Promise.resolve();
    }
    const queue = this.waiting.get(tenantId) ?? [];
    if (queue.length >= this.options.maxWaitingPerTenant) return Promise.reject(busy());
    return new Promise<void>((resolve, reject) => {
      const stopWaiting = () => {
        clearTimeout(waiter.timer);
        abandoned?.removeEventListener("abort", onAbandoned);
      };
      const leave = (error: VaultError) => {
        stopWaiting();
        this.remove(tenantId, waiter);
        reject(error);
      };
      const onAbandoned = () => leave(gone());
      const waiter: Waiter = {
        start: () => {
          stopWaiting();
          this.running++;
          resolve();
        },
        timer: setTimeout(() => leave(busy()), this.options.maxWaitMs),
        since: Date.now(),
      };
      abandoned?.addEventListener("abort", onAbandoned, { once: true });
      queue.push(waiter);
      this.waiting.set(tenantId, queue);
    });
  }

  /** The next tenant in turn gets one start; it goes to the back of the turn order if it has more waiting. */
  private startNext(): void {
    while (this.running < this.options.concurrency) {
      const next = this.waiting.entries().next();
      if (next.done) return;
      const [tenantId, queue] = next.value;
      this.waiting.delete(tenantId);
      const behind = Date.now() - queue[0].since >= (this.options.newestFirstAfterMs ?? 1_000);
      const waiter = behind ? queue.pop()! : queue.shift()!;
      if (queue.length > 0) this.waiting.set(tenantId, queue);
      waiter.start();
    }
  }

  private remove(tenantId: string, waiter: Waiter): void {
    const queue = this.waiting.get(tenantId);
    if (!queue) return;
    const at = queue.indexOf(waiter);
    if (at >= 0) queue.splice(at, 1);
    if (queue.length === 0) this.waiting.delete(tenantId);
  }
}

const busy = () =>
  new VaultError("service_unavailable", "The server is generating too many keys for this tenant; retry shortly", { retryAfterSeconds: 2, details: { reason: "generation_busy" } });

const gone = () =>
  new VaultError("service_unavailable", "The request was closed before its key generation's turn came", { retryAfterSeconds: 2, details: { reason: "client_gone" } });
