import type { FastifyBaseLogger } from "fastify";
import type { LeaseRevoker } from "./revoker.js";
import type { RootRotator } from "./rotate-root.js";
import type { DynamicStore } from "./store.js";

const BATCH = 100;
const MIN_SLEEP_MS = 20;
const BUSY_RETRY_MS = 250;

/**
 * The one background loop of the dynamic domain: revokes leases whose time has come (expiry and
 * retries of failed revocations) and runs scheduled root rotations. State lives in the database,
 * so a restart catches up what ended while the node was down, and several nodes can run it: every
 * lease and rotation is claimed before it is acted on.
 */
export class ExpiryWorker {
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private sleepingUntil = Number.POSITIVE_INFINITY;

  constructor(private readonly deps: { store: DynamicStore; revoker: LeaseRevoker; rotator: RootRotator; log: FastifyBaseLogger; pollMs: number }) {
    deps.revoker.onScheduled = (at) => {
      if (at < this.sleepingUntil) this.wake?.();
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.loop = null;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let sleep = this.deps.pollMs;
      try {
        const busy = await this.pass();
        const next = await this.deps.store.nextMoment();
        if (busy) sleep = BUSY_RETRY_MS;
        else if (next !== null) sleep = Math.min(sleep, Math.max(MIN_SLEEP_MS, next - Date.now()));
      } catch (error) {
        this.deps.log.error({ err: { name: (error as Error).name, code: (error as { code?: string }).code, kind: (error as { kind?: string }).kind } }, "lease expiry pass failed");
      }
      if (!this.running) break;
      this.sleepingUntil = Date.now() + sleep;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, sleep);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
      this.sleepingUntil = Number.POSITIVE_INFINITY;
    }
  }

  /** One pass; true when something due was left for later (held by another node). */
  async pass(): Promise<boolean> {
    let busy = false;
    for (const id of await this.deps.store.due(Date.now(), BATCH)) {
      if (!this.running) return false;
      try {
        if (!(await this.deps.revoker.attempt(id, "expired", null))) busy = true;
      } catch (error) {
        // Our own storage failed mid-attempt: the claim runs out and the lease is tried again.
        this.deps.log.warn({ err: { name: (error as Error).name, code: (error as { code?: string }).code } }, "lease expiry: one lease failed");
      }
    }
    for (const engine of await this.deps.store.rootRotationsDue(Date.now(), BATCH)) {
      if (!this.running) return false;
      await this.deps.rotator.scheduled(engine).catch((error) => {
        this.deps.log.warn({ err: { name: (error as Error).name, code: (error as { code?: string }).code } }, "scheduled root rotation failed");
      });
    }
    return busy;
  }
}
