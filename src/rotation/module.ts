import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type { Authorizer } from "../access/authorizer.js";
import type { AuditRecorder } from "../audit/recorder.js";
import type { ExpensiveWork } from "../crypto/expensive-work.js";
import type { Keyring } from "../crypto/keyring.js";
import type { EventOutbox } from "../events/outbox.js";
import type { SecretsService } from "../secrets/service.js";
import type { SecretStore } from "../secrets/store.js";
import type { Database } from "../storage/contract.js";
import { RotationEngine } from "./engine.js";
import { ExpiryMonitor } from "./expiry.js";
import { PolicyRowStore } from "./policy-store.js";
import { registerRotationRoutes } from "./routes.js";
import { ScheduleStore } from "./schedule-store.js";
import { RotationScheduler, type SchedulerOptions } from "./scheduler.js";
import { SecretPolicyService } from "./secret-policies.js";
import { RotationService } from "./service.js";

export interface RotationModuleDeps {
  db: Database;
  events: EventOutbox;
  audit: AuditRecorder;
  keyring: Keyring;
  authorizer: Authorizer;
  secretStore: SecretStore;
  secrets: SecretsService;
  scheduler: SchedulerOptions & { enabled: boolean };
  /** The node's generation gate and bcrypt worker (one per node, shared with PKI). */
  expensive: ExpensiveWork;
}

/** Rotation and secret policies, wired: the engine is also the secrets' write hook and rotation view. */
export function createRotation(deps: RotationModuleDeps) {
  const policies = new PolicyRowStore(deps.db);
  const schedules = new ScheduleStore(deps.db);
  const expiry = new ExpiryMonitor({ db: deps.db, events: deps.events, schedules, secretStore: deps.secretStore });
  const engine = new RotationEngine({ ...deps, policies, schedules, expiry });
  const service = new RotationService({ policies, schedules, secretStore: deps.secretStore, secrets: deps.secrets, engine, authorizer: deps.authorizer });
  const secretPolicies = new SecretPolicyService({ db: deps.db, policies, secrets: deps.secrets, expensive: deps.expensive });
  let scheduler: RotationScheduler | null = null;
  return {
    engine,
    register(app: FastifyInstance): void {
      registerRotationRoutes(app, service, secretPolicies);
    },
    start(log: FastifyBaseLogger): void {
      if (!deps.scheduler.enabled || scheduler) return;
      scheduler = new RotationScheduler({ db: deps.db, schedules, engine, expiry, log }, deps.scheduler);
      scheduler.start();
    },
    async stop(): Promise<void> {
      await scheduler?.stop();
      scheduler = null;
    },
  };
}
