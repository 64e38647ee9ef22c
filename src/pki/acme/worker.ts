import type { FastifyBaseLogger } from "fastify";
import type { AcmeOrders } from "./orders.js";

/**
 * The orders one node works at once. An order is mostly waiting: on the CA's validation, on a DNS
 * record's propagation (up to SCAIVAULT_DNS_PROPAGATION_TIMEOUT, 120 s), so a node works several,
 * and one tenant at most one of them: a tenant's hundred orders, or one whose DNS never answers,
 * then delay only its own, never another tenant's issuance or renewal. The next slot goes to the
 * oldest due order of a tenant neither in work here nor among the last ones started, so tenants
 * with backlogs take turns; only when every due order is theirs does it fall back to oldest first.
 */
export class OrderSlots {
  private readonly working = new Map<string, Promise<void>>();
  /** Tenants started here most recently, newest last (at most `slots` of them). */
  private readonly lastStarted: string[] = [];

  constructor(private readonly orders: AcmeOrders, private readonly slots: number, private readonly freed: () => void) {}

  /** Fills the free slots with due orders; returns once none is free or nothing is due. */
  async fill(now: number, log: FastifyBaseLogger, running: () => boolean): Promise<void> {
    while (running() && this.working.size < this.slots) {
      const busy = [...this.working.keys()];
      const turnTaken = [...new Set([...busy, ...this.lastStarted])];
      // Asked again without the last started only when that excluded someone more than the busy.
      const row = (await this.orders.nextDue(now, turnTaken)) ?? (turnTaken.length > busy.length ? await this.orders.nextDue(now, busy) : undefined);
      if (!row) return;
      const claimed = await this.orders.claim(row);
      if (!claimed) continue;
      this.started(claimed.tenant_id);
      const work = this.orders.work(claimed)
        .catch((error: unknown) => log.warn({ err: { name: (error as Error).name }, order_id: claimed.id }, "acme order pass failed"))
        .finally(() => {
          this.working.delete(claimed.tenant_id);
          this.freed();
        });
      this.working.set(claimed.tenant_id, work);
    }
  }

  /** Resolves once every order in work here has ended (shutdown waits for them, as it did for the one order before). */
  async settled(): Promise<void> {
    while (this.working.size > 0) await Promise.all(this.working.values());
  }

  private started(tenantId: string): void {
    const at = this.lastStarted.indexOf(tenantId);
    if (at >= 0) this.lastStarted.splice(at, 1);
    this.lastStarted.push(tenantId);
    if (this.lastStarted.length > this.slots) this.lastStarted.shift();
  }
}
