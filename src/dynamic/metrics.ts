import { Counter, Gauge } from "prom-client";
import type { MetricRegistries } from "../ops/metrics.js";
import type { DynamicStore } from "./store.js";

/** Contract D1's metrics. Engine names are labels; tenants never are (SPEC §8). */
export class DynamicMetrics {
  private readonly generated: Counter<"engine" | "role">;
  private readonly revokeFailed: Counter<"engine">;
  private readonly engineHealth: Gauge<"engine">;

  constructor(registries: MetricRegistries | null, store: DynamicStore) {
    const registers = registries ? [registries.live] : [];
    this.generated = new Counter({ name: "scaivault_leases_generated_total", help: "Dynamic credentials generated", labelNames: ["engine", "role"], registers });
    this.revokeFailed = new Counter({ name: "scaivault_lease_revocations_failed_total", help: "Lease revocations that failed at the source (each attempt)", labelNames: ["engine"], registers });
    this.engineHealth = new Gauge({ name: "scaivault_engine_health", help: "1 when the engine's last contact with its target succeeded", labelNames: ["engine"], registers });
    new Gauge({
      name: "scaivault_leases_active",
      help: "Leases active (not yet ended), from the shared database",
      labelNames: ["engine"],
      registers: registries ? [registries.stored] : [],
      async collect() {
        this.reset();
        for (const row of await store.activeByEngine()) this.set({ engine: row.engine_name }, row.n);
      },
    });
  }

  leaseGenerated(engine: string, role: string): void {
    this.generated.inc({ engine, role });
  }
  revocationFailed(engine: string): void {
    this.revokeFailed.inc({ engine });
  }
  health(engine: string, ok: boolean): void {
    this.engineHealth.set({ engine }, ok ? 1 : 0);
  }
}
