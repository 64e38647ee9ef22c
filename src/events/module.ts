import type { FastifyInstance } from "fastify";
import type { SharedSlices } from "../shared/turn.js";
import { Counter, Gauge } from "prom-client";
import type { PrincipalRefiner } from "../access/authenticator.js";
import type { Authorizer } from "../access/authorizer.js";
import type { AuditRecorder } from "../audit/recorder.js";
import type { VaultConfig } from "../config/config.js";
import type { Keyring } from "../crypto/keyring.js";
import type { MetricRegistries } from "../ops/metrics.js";
import type { Database } from "../storage/contract.js";
import { AccessEvents } from "./access-events.js";
import { DeliveryStore } from "./delivery-store.js";
import { DeliveryWorker } from "./delivery-worker.js";
import { Dispatcher } from "./dispatcher.js";
import { TargetQuota } from "./quotas.js";
import type { EventOutbox } from "./outbox.js";
import { registerEventRoutes } from "./routes.js";
import { SigningSecrets } from "./signing.js";
import { EventStreams } from "./stream.js";
import { SubscriptionsService } from "./subscriptions-service.js";
import { TargetsStore } from "./targets-store.js";
import { WebhooksService } from "./webhooks-service.js";

export interface EventsModule {
  register(app: FastifyInstance): void;
  /** Starts the fan-out and delivery worker; new commits on this node wake it at once. */
  start(): void;
  /** Ends streams and long polls, stops taking deliveries and waits for attempts in flight. */
  stop(): Promise<void>;
}

/** Wires the events domain: stores, the fan-out pass, the delivery worker, services and routes. */
export function createEvents(deps: {
  db: Database; config: VaultConfig; keyring: Keyring; authorizer: Authorizer; audit: AuditRecorder; outbox: EventOutbox; log: (msg: string, extra?: Record<string, unknown>) => void; registries?: MetricRegistries;
  /** The identity directory's gate: subscriptions are evaluated as their owners are now. */
  owners?: PrincipalRefiner | null;
  /** The node's shared slices of the loop for long walks (stream catch-ups here). */
  walks: SharedSlices;
}): EventsModule {
  const { db, config } = deps;
  const attempts = deps.registries
    ? new Counter({ name: "scaivault_webhook_delivery_attempts_total", help: "Webhook and subscription delivery attempts by outcome", labelNames: ["outcome"], registers: [deps.registries.live] })
    : null;
  if (deps.registries) {
    new Gauge({
      name: "scaivault_webhook_queue_depth",
      help: "Deliveries waiting to be sent (all nodes)",
      registers: [deps.registries.stored],
      async collect() {
        const row = await db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM event_deliveries WHERE status = 'pending'").catch(() => undefined);
        if (row) this.set(Number(row.n));
      },
    });
  }
  const targets = new TargetsStore(db);
  const deliveries = new DeliveryStore(db);
  const secrets = new SigningSecrets(deps.keyring);
  const dispatcher = new Dispatcher({ db, targets, deliveries, authorizer: deps.authorizer, owners: deps.owners ?? null, log: deps.log });
  const worker = new DeliveryWorker(
    { db, audit: deps.audit, targets, deliveries, secrets, dispatcher, log: deps.log, onAttempt: (outcome) => attempts?.inc({ outcome }) },
    { retryScheduleMs: config.events.retryScheduleMs, timeoutMs: config.events.webhookTimeoutMs, pollIntervalMs: config.events.pollIntervalMs, allowPrivate: config.webhookAllowPrivate },
  );
  const quota = new TargetQuota({
    webhooksPerTenant: config.events.maxWebhooksPerTenant, subscriptionsPerTenant: config.events.maxSubscriptionsPerTenant, subscriptionsPerIdentity: config.events.maxSubscriptionsPerIdentity,
  }, db.dialect);
  const serviceDeps = { db, targets, deliveries, secrets, audit: deps.audit, worker, allowPrivate: config.webhookAllowPrivate, quota };
  const webhooks = new WebhooksService(serviceDeps);
  const subscriptions = new SubscriptionsService({ ...serviceDeps, dispatcher, pollIntervalMs: config.events.pollIntervalMs });
  const streams = new EventStreams({ deliveries, dispatcher, authorizer: deps.authorizer, audit: deps.audit, pollIntervalMs: config.events.pollIntervalMs, heartbeatMs: config.events.sseHeartbeatMs, catchUps: deps.walks });
  let unsubscribe: (() => void) | null = null;
  return {
    register(app) {
      registerEventRoutes(app, webhooks, subscriptions, streams);
      new AccessEvents(db, deps.outbox).install(app);
    },
    start() {
      unsubscribe ??= deps.outbox.subscribe((event) => {
        dispatcher.committed(event);
        // An event that left no fan-out work makes no delivery: nothing for a round to do.
        if (deps.outbox.awaitsFanOut(event)) worker.kickSoon();
      });
      worker.start();
    },
    async stop() {
      unsubscribe?.();
      unsubscribe = null;
      streams.closeAll();
      subscriptions.close();
      await worker.stop();
    },
  };
}
