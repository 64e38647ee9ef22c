import Fastify, { LogController, type FastifyInstance } from "fastify";
import swagger from "@fastify/swagger";
import { Ajv } from "ajv";
import { readFileSync } from "node:fs";
import { Authenticator, type JwtVerifier } from "./access/authenticator.js";
import { Authorizer } from "./access/authorizer.js";
import { PolicyStore } from "./access/policy-store.js";
import { ENDED_TOKENS, TokenStore } from "./access/token-store.js";
import { PolicyService } from "./access/policy-service.js";
import { registerPolicyRoutes } from "./access/policy-routes.js";
import { ScaiKeyVerifier } from "./access/scaikey.js";
import { registerTokenRoutes } from "./access/token-routes.js";
import { registerPartnerSecretRoutes } from "./tenancy/partner-secrets.js";
import { registerTenancyRoutes } from "./tenancy/routes.js";
import { VaultTokens } from "./access/vault-tokens.js";
import { SharedSlices } from "./shared/turn.js";
import { buildAuditTrail } from "./audit/module.js";
import type { VaultConfig } from "./config/config.js";
import { BcryptWorker } from "./crypto/bcrypt-worker.js";
import { ExpensiveWork } from "./crypto/expensive-work.js";
import { GenerationGate } from "./crypto/generation-gate.js";
import { Keyring } from "./crypto/keyring.js";
import { LocalRootKey, loadLocalRootKey } from "./crypto/root-key.js";
import { createConsole } from "./console/module.js";
import { createEvents } from "./events/module.js";
import { EventOutbox } from "./events/outbox.js";
import { clientErrorHandler, frameworkErrorHandler, installErrorHandling } from "./http/error-handler.js";
import { installPipeline, rewriteTenantPrefix } from "./http/pipeline.js";
import { secretActionConstraint } from "./http/secret-action.js";
import { BatchMetadataReader } from "./secrets/batch-metadata.js";
import { SecretsReader } from "./secrets/reader.js";
import { registerSecretRoutes } from "./secrets/routes.js";
import { SecretsService, type SecretsDeps, type SecretWriteHook } from "./secrets/service.js";
import { createRotation } from "./rotation/module.js";
import { createDynamic } from "./dynamic/module.js";
import { ENDED_LEASES } from "./dynamic/store.js";
import { createPki } from "./pki/module.js";
import { endedCertificates } from "./pki/store.js";
import { endedSubmissions } from "./pki/retention.js";
import { createDns } from "./dns/module.js";
import type { DnsChallengeSolver } from "./dns/solver.js";
import { SecretStore } from "./secrets/store.js";
import { createIdentity } from "./identity/module.js";
import { FINISHED_SYNCS } from "./identity/sync-store.js";
import { FINISHED_ROTATIONS } from "./rotation/schedule-store.js";
import { newSortableId } from "./shared/ids.js";
import type { Database } from "./storage/contract.js";
import { ALL_MIGRATIONS } from "./storage/migrations.js";
import { openDatabase } from "./storage/open.js";
import { createOperations, EventRetention, instrumentDatabase, RetentionJob, OpsMetrics, prettyStream, registerOpsRoutes, serverTimeouts, sqliteFileOf, WriteHealth } from "./ops/index.js";
import { registerDocumentedMetrics, timedRootKey } from "./ops/documented-metrics.js";
import { registerSystemRoutes, VERSION } from "./system/routes.js";
import { finishDocument, transformRoute } from "./system/openapi.js";
import { bootstrap, DEFAULT_PARTNER_ID } from "./tenancy/bootstrap.js";
import { TenantResolver } from "./tenancy/resolver.js";
import { TenancyStore } from "./tenancy/store.js";

export interface Vault {
  app: FastifyInstance;
  db: Database;
  config: VaultConfig;
  /** The bootstrap admin token when this start generated it (print once), else null. */
  generatedAdminToken: string | null;
  rootKeyFileCreated: string | null;
  /** DNS providers' dns-01 solver (src/dns/solver.ts), for ACME orders. */
  dns: { solver: DnsChallengeSolver };
  close(): Promise<void>;
}

export interface BuildOptions {
  /** Where logs go; defaults to stdout. Tests pass a stream to scan what was logged. */
  logStream?: NodeJS.WritableStream;
  jwtVerifier?: JwtVerifier | null;
  /** ACME dns-01 (src/pki/acme/dns-solver.ts): the DNS providers domain's solver; tests pass their own. */
  dnsSolver?: DnsChallengeSolver;
  /** The node's key-generation gate and bcrypt worker; tests pass their own to hold a turn. */
  expensiveWork?: ExpensiveWork;
}

function compilerFor(coerce: boolean): Ajv {
  return new Ajv({ allErrors: true, removeAdditional: false, useDefaults: true, coerceTypes: coerce, strict: false });
}

/** The composition root: every component is built and wired here, by hand. */
export async function buildVault(config: VaultConfig, options: BuildOptions = {}): Promise<Vault> {
  const metrics = new OpsMetrics(config.resilience.metricsStorageIntervalMs);
  // Statements are timed by the adapters themselves (the audit's own PostgreSQL writer too), transactions by instrumentDatabase.
  const observeStatement = metrics.dbLatency.observe;
  const postgres = {
    acquireTimeoutMs: config.resilience.databaseAcquireTimeoutMs, queryTimeoutMs: config.resilience.databaseQueryTimeoutMs, longQueryTimeoutMs: config.resilience.databaseLongQueryTimeoutMs,
    preparedStatements: config.databasePreparedStatements, observeStatement,
  };
  const rawDb = openDatabase(config.databaseUrl, { auditSync: config.auditSync, poolSize: config.databasePoolSize, guardTransactions: config.storageGuards, postgres, observeStatement });
  const writeHealth = new WriteHealth(rawDb, sqliteFileOf(config.databaseUrl));
  const db = instrumentDatabase(rawDb, metrics.dbLatency.observe, (error) => writeHealth.noteWrite(error));
  metrics.watchDatabase(db);
  await db.migrate(ALL_MIGRATIONS);

  const rootKey = loadLocalRootKey(config.kms.localKey, config.kms.localKeyFile);
  const events = new EventOutbox(db, (msg, extra) => app.log.warn(extra ?? {}, msg));
  const documented = registerDocumentedMetrics(metrics.registries, { db, outbox: events });
  const keyring = new Keyring(db, timedRootKey(new LocalRootKey(rootKey.key), documented.kmsLatency));
  const tenancy = new TenancyStore(db);
  const policyStore = new PolicyStore(db);
  const tokenStore = new TokenStore(db);
  const vaultTokens = new VaultTokens(tokenStore, await keyring.systemKey("token-hash"), policyStore);
  const authorizer = new Authorizer(policyStore);
  const jwtVerifier = options.jwtVerifier !== undefined ? options.jwtVerifier : ScaiKeyVerifier.configured(config.scaikey) ? new ScaiKeyVerifier(config.scaikey, tenancy) : null;
  // Long walks any caller with a scope can start (audit verifications and exports, event-stream
  // catch-ups) take turns in one share of this node's loop.
  const walks = new SharedSlices();
  const auditTrail = await buildAuditTrail({ db, keyring, authorizer, sync: config.auditSync, exportDir: config.auditExportDir, settings: config.audit, unauthenticatedPartnerId: DEFAULT_PARTNER_ID, databaseUrl: config.databaseUrl,
    postgres, walks });
  const audit = auditTrail.recorder;
  // identity domain: its gate sees every authenticated credential (directory status, groups, roles).
  const identity = createIdentity({ db, config, keyring, policies: policyStore, tokens: vaultTokens, audit, events, authorizer, fallbackPartnerId: DEFAULT_PARTNER_ID, log: (msg, extra) => app.log.warn(extra ?? {}, msg) });
  const authenticator = new Authenticator(vaultTokens, jwtVerifier, identity.gate);
  const secretStore = new SecretStore(db);
  const writeHooks: SecretWriteHook[] = [];
  const secretsDeps: SecretsDeps = { db, store: secretStore, keyring, authorizer, audit, events, maxSecretBytes: config.maxSecretBytes, writeHooks };
  const secrets = new SecretsService(secretsDeps);
  // One per node: every tenant's RSA key pairs and bcrypt hashes take turns here (PKI and rotation).
  const expensive = options.expensiveWork ?? new ExpensiveWork(new GenerationGate({ concurrency: config.resilience.keygenConcurrency, maxWaitingPerTenant: 32, maxWaitMs: 30_000 }), new BcryptWorker(config.resilience.keygenConcurrency));
  const rotation = createRotation({ db, events, audit, keyring, authorizer, secretStore, secrets, expensive, scheduler: { enabled: config.rotation.schedulerEnabled, pollMs: config.rotation.pollMs, reconcileMs: config.rotation.reconcileMs } });
  writeHooks.push(rotation.engine);
  // Rotation is built on the secrets service, so it joins the service's answers afterwards.
  secretsDeps.rotation = rotation.engine;
  const readerDeps = { store: secretStore, keyring, authorizer, rotation: rotation.engine };
  const reader = new SecretsReader(readerDeps);
  auditTrail.useSecretReader(async (caller, path) => (await reader.read(caller, path, undefined)).data as Record<string, unknown>);

  const boot = await bootstrap({ db, tenancy, policies: policyStore, tokens: vaultTokens, keyring }, config.bootstrapToken);

  const bodyAjv = compilerFor(false);
  const queryAjv = compilerFor(true);
  const app = Fastify({
    logger: {
      level: config.logLevel,
      stream: config.logFormat === "pretty" ? prettyStream(options.logStream ?? process.stdout) : options.logStream,
      redact: { paths: ["req.headers.authorization", "req.headers.cookie"], censor: "[redacted]" },
      serializers: {
        req: (req: { method: string; url: string; id: string }) => ({ method: req.method, url: req.url.split("?")[0], request_id: req.id }),
      },
    },
    // Fastify's two info lines per request cost more than a health answer; ours below are chosen.
    logController: new LogController({ disableRequestLogging: true }),
    // Indexed in every audit entry: time-ordered, so they append to that index (src/shared/ids.ts).
    genReqId: () => newSortableId("req"),
    bodyLimit: config.maxBodyBytes,
    // Our own draining answers 503 in the contract's shape (src/ops); Fastify's would not.
    return503OnClosing: false,
    frameworkErrors: frameworkErrorHandler as never,
    requestTimeout: config.ops.requestTimeoutMs,
    keepAliveTimeout: 5000,
    // resilience: Node checks request deadlines every 30 s by default; a slow-loris client must be
    // cut close to SCAIVAULT_REQUEST_TIMEOUT, headers included (src/ops/slow-clients.ts cuts bodies).
    http: { maxHeaderSize: config.ops.maxHeaderBytes, ...serverTimeouts(config.ops.requestTimeoutMs) },
    clientErrorHandler,
    rewriteUrl: (req) => rewriteTenantPrefix(req as never),
    routerOptions: { constraints: { secretAction: secretActionConstraint as never } },
    ...(config.tls ? { https: { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile), maxHeaderSize: config.ops.maxHeaderBytes, ...serverTimeouts(config.ops.requestTimeoutMs) } } : {}),
  }) as unknown as FastifyInstance;
  const logAllRequests = config.logRequests === "all";
  const logChanges = config.logRequests === "changes";
  app.addHook("onResponse", (request, reply, done) => {
    const status = reply.statusCode;
    const ms = reply.elapsedTime;
    const method = request.method;
    if (logAllRequests || status >= 500 || ms >= config.logSlowMs || (logChanges && method !== "GET" && method !== "HEAD" && method !== "OPTIONS")) {
      reply.log[status >= 500 ? "error" : ms >= config.logSlowMs ? "warn" : "info"]({ req: request, res: { statusCode: status }, responseTime: ms }, "request completed");
    }
    done();
  });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === "body" ? bodyAjv : queryAjv).compile(schema as object));

  await app.register(swagger, {
    openapi: {
      info: { title: "ScaiVault API", version: VERSION },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
    // cli: lint-clean document (servers, operationIds, error envelope, no `*` parameter): src/system/openapi.ts
    transform: transformRoute as never,
    transformObject: (document) => finishDocument((document as { openapiObject: object }).openapiObject as never, config.baseUrl) as never,
  });

  installErrorHandling(app);
  const ops = await createOperations(config, metrics, app.log, { accessCounters: () => policyStore.epochs(), audit });
  const consoleUi = await createConsole({ db, config, keyring, authenticator, limits: ops });
  installPipeline(app, { authenticator, tenants: new TenantResolver(tenancy, (tenantId, principal) => identity.gate.requireActiveTenant(tenantId, principal.accessCounters)), audit, limits: ops, sessions: consoleUi.sessions });
  ops.install(app);
  registerSystemRoutes(app, { db, keyring, redisCheck: ops.redisCheck, writeCheck: () => writeHealth.check() });
  registerOpsRoutes(app, { db, keyring, ops });
  registerSecretRoutes(app, secrets, reader, new BatchMetadataReader(readerDeps));
  registerPartnerSecretRoutes(app, secrets, reader);
  registerPolicyRoutes(app, new PolicyService({ db, store: policyStore, authorizer, audit, events }));
  registerTokenRoutes(app, { db, tokens: vaultTokens, store: tokenStore, authenticator, audit, policies: policyStore, authorizer, personalMaxTtlSeconds: config.identity.personalTokenMaxTtlSeconds });
  registerTenancyRoutes(app, { db, tenancy, keyring, audit });
  auditTrail.registerRoutes(app);
  auditTrail.start(app.log);
  identity.register(app, ops);
  rotation.register(app);
  rotation.start(app.log);
  // Dynamic credentials (src/dynamic): engines read their root secrets through the reader as themselves.
  const dynamic = createDynamic({ db, events, audit, keyring, authorizer, policies: policyStore, reader, secrets, secretStore, registries: metrics.registries,
    config: { workerEnabled: config.rotation.schedulerEnabled, pollMs: config.dynamic.pollMs, retryScheduleMs: config.dynamic.retryScheduleMs, maxLeasesPerIdentity: config.dynamic.maxLeasesPerIdentity } });
  dynamic.register(app);
  dynamic.start(app.log);
  // DNS providers and the dns-01 solver (spec/pki.md P7), which ACME orders use
  const dns = createDns({ db, keyring, audit, secrets, config, log: app.log });
  dns.register(app);
  // PKI (spec/pki.md)
  const pki = createPki({ db, keyring, authorizer, audit, events, secrets, secretStore, config, expensive, registries: metrics.registries, dnsSolver: options.dnsSolver ?? dns.solver });
  pki.register(app);
  pki.start(app.log);
  const eventDelivery = createEvents({ db, config, keyring, authorizer, audit, outbox: events, registries: metrics.registries, owners: identity.gate, walks, log: (msg, extra) => app.log.warn(extra ?? {}, msg) });
  eventDelivery.register(app);
  eventDelivery.start();
  consoleUi.register(app);
  const retentionLog = (msg: string, extra?: Record<string, unknown>) => app.log.info(extra ?? {}, msg);
  const { eventsRetentionMs, credentialsRetentionMs, rotationHistoryRetentionMs, retentionIntervalMs } = config.resilience;
  const retention: RetentionJob[] = [new EventRetention(db, { retentionMs: eventsRetentionMs, intervalMs: retentionIntervalMs, log: retentionLog })];
  // Every exchange, generated credential and issued certificate leaves a row; ended ones go after the window.
  if (credentialsRetentionMs !== null) {
    retention.push(new RetentionJob(db, { job: "credentials_retention", steps: [...ENDED_TOKENS, ...ENDED_LEASES, ...endedCertificates(config.pki.crlLifetimeMs), ...endedSubmissions(config.pki.csrTtlMs)], windowMs: credentialsRetentionMs, intervalMs: retentionIntervalMs, log: retentionLog }));
  }
  retention.push(new RetentionJob(db, { job: "identity_syncs_retention", steps: FINISHED_SYNCS, windowMs: eventsRetentionMs, intervalMs: retentionIntervalMs, log: retentionLog }));
  if (rotationHistoryRetentionMs !== null) {
    retention.push(new RetentionJob(db, { job: "rotation_history_retention", steps: FINISHED_ROTATIONS, windowMs: rotationHistoryRetentionMs, intervalMs: retentionIntervalMs, log: retentionLog }));
  }
  for (const job of retention) job.start();
  identity.start();

  return {
    app,
    db,
    config,
    generatedAdminToken: boot.generatedToken,
    rootKeyFileCreated: rootKey.createdFile,
    dns: { solver: dns.solver },
    // Order matters: stop accepting and finish in-flight requests (new ones get 503), then stop
    // background workers, then close the database; Redis last.
    async close() {
      // resilience: from the first moment of shutdown new requests get 503 draining, not after
      // the background work below (a webhook attempt can take its whole timeout) has stopped.
      ops.beginDrain();
      // The scheduler finishes its pass and stops before anything it writes through goes away.
      await rotation.stop();
      await dynamic.stop();
      await pki.stop();
      await identity.stop();
      await expensive.close();
      // Streams and long polls would hold the drain open; the outbox keeps whatever is undelivered.
      await eventDelivery.stop();
      await Promise.all(retention.map((job) => job.stop()));
      await ops.drain(app);
      await auditTrail.drain();
      await db.close();
      await ops.close();
    },
  };
}
