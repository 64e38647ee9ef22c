import { expect, it } from "vitest";
import type { FastifyBaseLogger } from "fastify";
import type { AcmeOrders, OrderRow } from "./orders.js";
import { OrderSlots } from "./worker.js";

/**
 * Which due order gets a free slot, with the orders' storage and work replaced by an in-memory
 * list and work each test ends by hand: one order per tenant at a time, tenants with backlogs in turn.
 */
class Queue {
  readonly due: OrderRow[] = [];
  readonly started: string[] = [];
  private readonly ends = new Map<string, () => void>();

  add(tenant: string, count: number): void {
    for (let i = 0; i < count; i++) this.due.push({ id: `${tenant}${i}`, tenant_id: tenant, run_at: this.due.length } as OrderRow);
  }

  orders(): AcmeOrders {
    return {
      nextDue: async (_now: number, excluded: readonly string[]) => this.due.find((o) => !excluded.includes(o.tenant_id)),
      claim: async (row: OrderRow) => {
        this.due.splice(this.due.indexOf(row), 1);
        return row;
      },
      work: (row: OrderRow) => {
        this.started.push(row.id);
        return new Promise<void>((resolve) => this.ends.set(row.id, resolve));
      },
    } as unknown as AcmeOrders;
  }

  /** Ends an order's work and lets the slot's `finally` run. */
  async end(id: string): Promise<void> {
    this.ends.get(id)!();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const log = { warn: () => undefined } as unknown as FastifyBaseLogger;

it("works one order per tenant at a time, and gives a freed slot to the tenant that waited longest", async () => {
  const queue = new Queue();
  // Tenant a ordered first and most; b and c after it.
  queue.add("a", 4);
  queue.add("b", 2);
  queue.add("c", 1);
  let freed = 0;
  const slots = new OrderSlots(queue.orders(), 2, () => freed++);
  await slots.fill(0, log, () => true);
  // Two slots: a's oldest and b's, never a's second beside its first.
  expect(queue.started).toEqual(["a0", "b0"]);

  /** Ends these orders, fills the freed slots, and says which orders that started. */
  const startedAfter = async (...ended: string[]) => {
    const before = queue.started.length;
    for (const id of ended) await queue.end(id);
    await slots.fill(0, log, () => true);
    return queue.started.slice(before);
  };

  // a's next order is older than c's, but c has not had a turn: c goes first.
  expect(await startedAfter("a0")).toEqual(["c0"]);
  expect(freed).toBe(1);
  // Every tenant with due orders had a turn (a was started longest ago): a next, then b.
  expect(await startedAfter("b0")).toEqual(["a1"]);
  expect(await startedAfter("c0")).toEqual(["b1"]);
  // Only a has due orders left: it takes one slot, the other stays free.
  expect(await startedAfter("a1", "b1")).toEqual(["a2"]);
  expect(await startedAfter("a2")).toEqual(["a3"]);

  const settled = slots.settled();
  await queue.end("a3");
  await settled;
  expect(queue.due).toEqual([]);
});
