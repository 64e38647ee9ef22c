/**
 * The push attempts one node makes at once, shared among tenants. An attempt can wait on its
 * receiver for the whole webhook timeout (10 s), so the worker no longer claims a batch and waits
 * for all of it: each slot is filled again as its attempt ends. A tenant holds up to `share` slots
 * as of right; past that it takes a free slot only while more than `reserve` stay free. So a
 * tenant alone can use all but the reserve, and a tenant whose receivers hang (accept the
 * connection, never answer) leaves the reserve to everyone else: another tenant's delivery starts
 * at once instead of after a batch of timeouts (11.5–12 s in the review; docs/benchmarks.md round 37).
 */
export class DeliverySlots {
  private readonly byTenant = new Map<string, number>();
  private total = 0;

  constructor(readonly slots = 40, readonly share = 8, readonly reserve = 8) {}

  free(): number {
    return this.slots - this.total;
  }

  /** Tenants that may not take the next free slot (past their share, with only the reserve left). */
  excluded(): string[] {
    if (this.free() > this.reserve) return [];
    return [...this.byTenant].filter(([, held]) => held >= this.share).map(([tenant]) => tenant);
  }

  /**
   * A chooser for one claim: says, row by row in the claim's order, whether the row's tenant may
   * take a slot, counting what it has already said yes to (nothing is held until `start`).
   */
  chooser(): (tenantId: string) => boolean {
    const extra = new Map<string, number>();
    let taken = 0;
    return (tenantId) => {
      const free = this.free() - taken;
      const held = (this.byTenant.get(tenantId) ?? 0) + (extra.get(tenantId) ?? 0);
      if (free <= 0 || (held >= this.share && free <= this.reserve)) return false;
      extra.set(tenantId, (extra.get(tenantId) ?? 0) + 1);
      taken++;
      return true;
    };
  }

  start(tenantId: string): void {
    this.byTenant.set(tenantId, (this.byTenant.get(tenantId) ?? 0) + 1);
    this.total++;
  }

  end(tenantId: string): void {
    const held = (this.byTenant.get(tenantId) ?? 0) - 1;
    if (held > 0) this.byTenant.set(tenantId, held);
    else this.byTenant.delete(tenantId);
    this.total--;
  }
}
