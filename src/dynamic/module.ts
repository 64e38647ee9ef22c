import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type { Authorizer } from "../access/authorizer.js";
import type { PolicyStore } from "../access/policy-store.js";
import type { AuditRecorder } from "../audit/recorder.js";
import type { Keyring } from "../crypto/keyring.js";
import type { EventOutbox } from "../events/outbox.js";
import type { MetricRegistries } from "../ops/metrics.js";
import type { SecretsReader } from "../secrets/reader.js";
import type { SecretsService } from "../secrets/service.js";
import type { SecretStore } from "../secrets/store.js";
import type { Database } from "../storage/contract.js";
import { Connector } from "./connector.js";
import { EngineService } from "./engines.js";
import { LeaseService } from "./leases.js";
import { DynamicMetrics } from "./metrics.js";
import { LeaseRevoker } from "./revoker.js";
import { RoleService } from "./roles.js";
import { RootCredentialReader } from "./root-credentials.js";
import { RootRotator } from "./rotate-root.js";
import { registerDynamicRoutes } from "./routes.js";
import { SshPublic } from "./ssh/public.js";
import { DynamicStore } from "./store.js";
import { ExpiryWorker } from "./worker.js";

export interface DynamicModuleDeps {
  db: Database;
  events: EventOutbox;
  audit: AuditRecorder;
  keyring: Keyring;
  authorizer: Authorizer;
  policies: PolicyStore;
  reader: SecretsReader;
  secrets: SecretsService;
  secretStore: SecretStore;
  registries: MetricRegistries | null;
  config: { workerEnabled: boolean; pollMs: number; retryScheduleMs: number[]; maxLeasesPerIdentity: number };
}

/** Dynamic credentials (spec/dynamic.md): engines, roles, leases and their expiry worker, wired. */
export function createDynamic(deps: DynamicModuleDeps) {
  const store = new DynamicStore(deps.db);
  const metrics = new DynamicMetrics(deps.registries, store);
  const roots = new RootCredentialReader({ reader: deps.reader, audit: deps.audit, authorizer: deps.authorizer });
  const connector = new Connector({ roots, store, metrics });
  const base = { db: deps.db, events: deps.events, audit: deps.audit };
  const engines = new EngineService({ ...base, store, roots, connector, keyring: deps.keyring, policies: deps.policies });
  const roles = new RoleService({ ...base, store, engines });
  const revoker = new LeaseRevoker({ ...base, store, connector, metrics, retryScheduleMs: deps.config.retryScheduleMs });
  const leases = new LeaseService({ ...base, store, engines, roles, connector, authorizer: deps.authorizer, keyring: deps.keyring, metrics, revoker, maxLeasesPerIdentity: deps.config.maxLeasesPerIdentity });
  engines.leases = leases;
  const rotator = new RootRotator({ store, connector, authorizer: deps.authorizer, secrets: deps.secrets, secretStore: deps.secretStore });
  const ssh = new SshPublic({ store });
  let worker: ExpiryWorker | null = null;
  return {
    register(app: FastifyInstance): void {
      registerDynamicRoutes(app, { engines, roles, leases, rotator, ssh });
    },
    start(log: FastifyBaseLogger): void {
      if (!deps.config.workerEnabled || worker) return;
      worker = new ExpiryWorker({ store, revoker, rotator, log, pollMs: deps.config.pollMs });
      worker.start();
    },
    async stop(): Promise<void> {
      await worker?.stop();
      worker = null;
    },
  };
}
