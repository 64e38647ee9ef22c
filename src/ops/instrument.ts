import type { Histogram } from "prom-client";
import type { Database, Queryable } from "../storage/contract.js";

const TIMED = new Set(["all", "get", "run"]);

function timeQueryable<T extends object>(target: T, histogram: Histogram<string>): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver);
      if (typeof value !== "function") return value;
      if (TIMED.has(property as string)) {
        return (...args: unknown[]) => {
          const stop = histogram.startTimer();
          return (value as (...a: unknown[]) => Promise<unknown>).apply(object, args).finally(stop);
        };
      }
      if (property === "transaction") {
        return (work: (tx: Queryable) => Promise<unknown>) => {
          const stop = histogram.startTimer();
          return (value as Database["transaction"]).call(object, (tx) => work(timeQueryable(tx, histogram))).finally(stop);
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(object);
    },
  });
}

/**
 * The database as every component sees it, with statement and transaction times recorded in
 * `scaivault_db_latency_seconds`. Everything else (dialect, migrate, close, adapter extras)
 * passes through to the adapter.
 */
export function instrumentDatabase(db: Database, histogram: Histogram<string>): Database {
  return timeQueryable(db, histogram);
}
