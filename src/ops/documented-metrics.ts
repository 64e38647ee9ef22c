import { Counter, Gauge, Histogram } from "prom-client";
import type { RootKeyProvider } from "../crypto/root-key.js";
import type { EventOutbox } from "../events/outbox.js";
import type { Database } from "../storage/contract.js";
import type { MetricRegistries } from "./metrics.js";

/**
 * The documented families that measure other domains (the docs' health-and-monitoring list):
 * rotations, root-key (KMS) latency and the rotation queue. Pool figures come from the adapters'
 * `poolStats` (src/ops/metrics.ts). Labels carry no identity or tenant.
 */
export function registerDocumentedMetrics(registries: MetricRegistries, deps: { db: Database; outbox: EventOutbox }): { kmsLatency: Histogram<"operation"> } {
  const registers = [registries.live];
  const rotations = new Counter({ name: "scaivault_secret_rotations_total", help: "Completed and failed secret rotations committed by this node", labelNames: ["status"], registers });
  // The docs' label and values (`status`: success | failed). Counted from committed events, so a
  // rotation rolled back is never counted.
  deps.outbox.subscribe((event) => {
    if (event.event_type === "secret.rotated") rotations.inc({ status: "success" });
    else if (event.event_type === "rotation.failed") rotations.inc({ status: "failed" });
  });
  new Gauge({
    name: "scaivault_rotation_queue_depth",
    help: "Secrets whose rotation is due or overdue and not yet completed (all nodes)",
    registers: [registries.stored],
    async collect() {
      // `state <> 'scheduled'` spelled out: SQLite uses the partial index of unsettled schedules only
      // when the query names its condition; without it, every schedule was read at each reading.
      const row = await deps.db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM rotation_schedules WHERE state <> 'scheduled' AND state IN ('due', 'overdue')").catch(() => undefined);
      if (row) this.set(Number(row.n));
    },
  });
  const kmsLatency = new Histogram({
    name: "scaivault_kms_latency_seconds",
    help: "Time per root-key (KMS provider) call: encrypt (wrap a key) or decrypt (unwrap one)",
    labelNames: ["operation"],
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5],
    registers,
  });
  return { kmsLatency };
}

/** The root key provider with each call timed into `scaivault_kms_latency_seconds`. */
export function timedRootKey(provider: RootKeyProvider, histogram: Histogram<"operation">): RootKeyProvider {
  const time = async <T>(operation: string, work: () => Promise<T>): Promise<T> => {
    const end = histogram.startTimer({ operation });
    try {
      return await work();
    } finally {
      end();
    }
  };
  return {
    keyId: provider.keyId,
    // The docs' operation values are the KMS calls: a wrap is an encrypt, an unwrap a decrypt.
    wrap: (plaintext, aad) => time("encrypt", () => provider.wrap(plaintext, aad)),
    unwrap: (wrapped, aad) => time("decrypt", () => provider.unwrap(wrapped, aad)),
  };
}
