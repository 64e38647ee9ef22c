import { VaultError } from "../http/errors.js";

export interface GenerationGateOptions {
  /** Expensive generations running at once on this node (SCAIVAULT_KEYGEN_CONCURRENCY). */
  concurrency: number;
  /** Waiting generations per tenant beyond which the next is refused. */
  maxWaitingPerTenant: number;
  /** How long a generation may wait for its turn before it is refused. */
  maxWaitMs: number;
}

interface Waiter {
  start: () => void;
  timer: NodeJS.Timeout;
}

/**
 * The node's expensive generations — RSA key pairs (0.1–0.3 s of a core at 2048 bits, 0.4–2.6 s at
 * 4096) and bcrypt hashes (1.1 s at 14 rounds) — run a few at a time, taken in turn across tenants.
 * Unbounded, a tenant's `pki:issue` callers on an RSA-4096 role (50 a minute per identity) or its
 * administrator previewing a recipe of many key pairs kept a core busy per caller, taking the node
 * from every other tenant. Here at most `concurrency` run; waiting ones are queued per tenant and
 * started round-robin, so one tenant's flood waits behind itself while another tenant's request
 * waits for one turn at most. A tenant with `maxWaitingPerTenant` waiting, or a wait past
 * `maxWaitMs`, gets 503 `service_unavailable` (reason `generation_busy`) with a Retry-After.
 */
export class GenerationGate {
  private running = 0;
  /** Tenants with waiting work, in turn order (a Map keeps insertion order: served tenants go last). */
  private readonly waiting = new Map<string, Waiter[]>();

  constructor(private readonly options: GenerationGateOptions) {}

  async run<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
    await this.turn(tenantId);
    try {
      return await work();
    } finally {
      this.running--;
      this.startNext();
    }
  }

  private turn(tenantId: string): Promise<void> {
    if (this.running < this.options.concurrency && this.waiting.size === 0) {
      this.running++;
      return Promise.resolve();
    }
    const queue = this.waiting.get(tenantId) ?? [];
    if (queue.length >= this.options.maxWaitingPerTenant) return Promise.reject(busy());
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          clearTimeout(waiter.timer);
          this.running++;
          resolve();
        },
        timer: setTimeout(() => {
          this.remove(tenantId, waiter);
          reject(busy());
        }, this.options.maxWaitMs),
      };
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
      const waiter = queue.shift()!;
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
