import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { bool, ConfigError, durationListMs, durationMs, loadFileEnv, offOrDurationMs, oneOf, parseBind, parseDatabaseUrl, parseLocalKey, positiveInt, readableFile, url, wholeNumber, type Env } from "./parse.js";

export { ConfigError } from "./parse.js";

/**
 * Configuration is read once at start from the environment (and an optional JSON file named by
 * SCAIVAULT_CONFIG whose keys are the same variable names; the environment wins), validated, and
 * passed down. Nothing else in the server reads process.env.
 */
export interface VaultConfig {
  bindHost: string;
  bindPort: number;
  baseUrl: string | null;
  databaseUrl: string;
  /** PostgreSQL connections per node. */
  databasePoolSize: number;
  /** PostgreSQL: recurring statements prepared once per connection (off behind an older transaction-mode pooler). */
  databasePreparedStatements: boolean;
  redisUrl: string | null;
  scaikey: {
    url: string | null;
    jwksUrl: string | null;
    audience: string | null;
    issuers: string[];
    /** Least seconds between two JWKS refetches caused by unknown `kid`s (0 in tests). */
    jwksCooldownSeconds: number;
  };
  kms: { provider: "local"; localKey: Buffer | null; localKeyFile: string };
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  logFormat: "json" | "pretty";
  /**
   * Which requests get a "request completed" log line (perf, issue 14): `changes` (default) —
   * anything but GET/HEAD/OPTIONS, every 5xx and every request slower than `logSlowMs`; `errors` —
   * 5xx and slow ones only; `all` — every request (the default at LOG_LEVEL debug/trace). Every
   * request is in the audit trail either way.
   */
  logRequests: "all" | "changes" | "errors";
  logSlowMs: number;
  bootstrapToken: string | null;
  // access-sec (SPEC §2): where a generated bootstrap token is written, and whether to print it instead of its path.
  bootstrap: { tokenFile: string; printToken: boolean };
  webhookAllowPrivate: boolean;
  rateLimits: Record<string, number>;
  tls: { certFile: string; keyFile: string } | null;
  auditSync: "normal" | "full";
  /** Development/test assertions in the storage layer that cost throughput (SCAIVAULT_STORAGE_GUARDS). */
  storageGuards: boolean;
  /** Root directory for audit exports with a `file` destination; nothing is written outside it. */
  auditExportDir: string;
  maxSecretBytes: number;
  maxBodyBytes: number;
  // --- audit (round 3: checkpoints, retention, object-store exports) ---
  audit: {
    /** How often chains that moved get a signed checkpoint (SPEC §5: at least every minute). */
    checkpointIntervalMs: number;
    /** The least retention a tenant may set, in days (SPEC §5: 90). */
    minRetentionDays: number;
    /** How long a retention reduction waits before it takes effect (SPEC §5: 7 days). */
    retentionReductionDelayMs: number;
    /** How often pruning looks for entries past their tenant's retention. */
    pruneIntervalMs: number;
    /** Entries deleted per transaction while pruning (small: never a long lock). */
    pruneBatch: number;
    /** How often ended days are counted for summaries (rollups.ts). */
    rollupIntervalMs: number;
    /** Timeout of each object-store call made by an export. */
    exportCallTimeoutMs: number;
    /** A running export's lease; an export whose lease ran out is failed as interrupted. */
    exportLeaseMs: number;
  };
  /** Availability and hardening (src/ops). */
  ops: {
    /** Mean event-loop delay above which requests are shed with 503. */
    maxEventLoopDelayMs: number;
    /** Heap in use above which requests are shed; null = 90% of the V8 heap limit. */
    maxHeapBytes: number | null;
    maxConcurrentRequests: number;
    /** How long SIGTERM waits for in-flight requests before cutting connections. */
    shutdownTimeoutMs: number;
    /** Time allowed to receive a whole request (slow clients are cut). */
    requestTimeoutMs: number;
    maxHeaderBytes: number;
  };
  events: {
    /** Delay before each retry of a failed delivery, in ms (SPEC §7: 5s, 5m, 30m, 2h, 5h, 10h, 10h). */
    retryScheduleMs: number[];
    webhookTimeoutMs: number;
    /** How often the delivery worker looks for work written by other nodes or left by a crash. */
    pollIntervalMs: number;
    sseHeartbeatMs: number;
    /** Every event is matched against each target of its tenant: how many a tenant and an identity may hold (**ext**). */
    maxWebhooksPerTenant: number;
    maxSubscriptionsPerTenant: number;
    maxSubscriptionsPerIdentity: number;
  };
  /** Resilience (src/ops): long-lived connections, storage deadlines, metrics access, retention. */
  resilience: {
    /** Open event streams and long polls per identity, and per tenant (their own caps, not request concurrency). */
    maxStreamsPerIdentity: number;
    maxStreamsPerTenant: number;
    /** How often an open stream or long poll re-checks its credential (revocation, expiry). */
    credentialRecheckMs: number;
    /** RSA key pairs and bcrypt hashes generated at once on this node (SCAIVAULT_KEYGEN_CONCURRENCY, **ext**). */
    keygenConcurrency: number;
    /** PostgreSQL: longest wait for a pooled connection on the request path. */
    databaseAcquireTimeoutMs: number;
    /** PostgreSQL: statement/query deadline on the request path. */
    databaseQueryTimeoutMs: number;
    /** PostgreSQL: deadline for exports, pruning and migrations. */
    databaseLongQueryTimeoutMs: number;
    /** `/v1/metrics` needs a token with `metrics:read` (or `admin`). */
    metricsRequireToken: boolean;
    /** The gauges read from storage are read at most once per this interval per node (0: every scrape). */
    metricsStorageIntervalMs: number;
    /** Delivered events, settled deliveries and acknowledged inbox rows older than this are pruned. */
    eventsRetentionMs: number;
    /** How often a node checks whether a retention pass is due (one node runs each pass). */
    retentionIntervalMs: number;
    /** Tokens and dynamic leases that ended longer ago than this are pruned; null = kept for ever. */
    credentialsRetentionMs: number | null;
    /** Finished rotations older than this leave the rotation history (each secret's newest stays); null = kept for ever. */
    rotationHistoryRetentionMs: number | null;
  };
  /** Identity domain (spec/identity.md): the ScaiKey directory, sync, webhooks, personal tokens. */
  identity: {
    /** ScaiKey's admin API client (SCAIKEY_CLIENT_ID/SECRET); null = standalone (empty cache). */
    directory: { clientId: string; clientSecret: string } | null;
    webhookSecret: string | null;
    /** Scheduled sync interval; null = off. */
    syncIntervalMs: number | null;
    personalTokenMaxTtlSeconds: number;
    /** Token-exchange trusts one tenant may hold (each exchange reads at most one tenant's). */
    maxTrustsPerTenant: number;
  };
  rotation: {
    /** Run the rotation and expiry scheduler on this node (every node may; each moment fires once). */
    schedulerEnabled: boolean;
    /** Longest sleep between scheduler passes; changes made on other nodes are seen within it. */
    pollMs: number;
    /** How often secrets changed by a metadata PATCH are brought in step with their schedules. */
    reconcileMs: number;
  };
  /** Dynamic credentials (src/dynamic): the lease expiry worker runs where the rotation scheduler does. */
  dynamic: {
    /** Longest sleep of the expiry worker: leases made on other nodes are revoked within this of their end. */
    pollMs: number;
    /** Delays before each retry of a failed revocation; the last repeats (SCAIVAULT_LEASE_RETRY_SCHEDULE). */
    retryScheduleMs: number[];
    /** Active leases one identity may hold in a tenant: each is a user at a target (SCAIVAULT_MAX_LEASES_PER_IDENTITY, **ext**). */
    maxLeasesPerIdentity: number;
  };
  /** The admin console at /ui (src/console). */
  ui: {
    enabled: boolean;
    sessionIdleMs: number;
    sessionMaxMs: number;
  };
  // --- pki (spec/pki.md) ---
  pki: {
    /** A CRL's nextUpdate distance; it is regenerated at half of it (SCAIVAULT_PKI_CRL_LIFETIME). */
    crlLifetimeMs: number;
    /** Thresholds of `certificate.expiring`, longest first (SCAIVAULT_PKI_NOTIFY_BEFORE). */
    notifyBeforeMs: number[];
    /** A second listener answering only `/.well-known/acme-challenge/*` (SCAIVAULT_ACME_HTTP_ADDRESS, **ext**). */
    acmeHttpAddress: { host: string; port: number } | null;
    /** Extra CA certificates (PEM file) trusted for ACME directories (SCAIVAULT_ACME_CA_FILE, **ext**; NODE_EXTRA_CA_CERTS works too). */
    acmeCaFile: string | null;
    /** How long a submitted CSR waits for review before it is `expired` (SCAIVAULT_PKI_CSR_TTL, **ext**). */
    csrTtlMs: number;
    /** ACME orders one node works at once, one per tenant (SCAIVAULT_ACME_CONCURRENCY, **ext**). */
    acmeConcurrency: number;
    /** ACME orders a tenant may have pending or processing (SCAIVAULT_MAX_OPEN_ACME_ORDERS_PER_TENANT, **ext**). */
    maxOpenAcmeOrdersPerTenant: number;
    /** External CA certificates a tenant may trust (SCAIVAULT_MAX_TRUST_ANCHORS_PER_TENANT, 100, **ext**). */
    maxTrustAnchorsPerTenant: number;
    /** CAs a tenant may hold, revoked ones included (SCAIVAULT_MAX_CAS_PER_TENANT, 1000, **ext**). */
    maxCasPerTenant: number;
  };
  // --- dns providers (spec/pki.md P7) ---
  dns: {
    /** Each DNS request's timeout, per transport (SCAIVAULT_DNS_TIMEOUT, 5s). */
    timeoutMs: number;
    /** How long a dns-01 record may take to appear at the provider's server (SCAIVAULT_DNS_PROPAGATION_TIMEOUT, 120s). */
    propagationTimeoutMs: number;
  };
}

const RATE_PREFIX = "RATE_LIMIT_";

// identity domain
function identityConfig(env: Env): VaultConfig["identity"] {
  const clientId = env.SCAIKEY_CLIENT_ID || null;
  const clientSecret = env.SCAIKEY_CLIENT_SECRET || null;
  if (Boolean(clientId) !== Boolean(clientSecret)) throw new ConfigError(clientId ? "SCAIKEY_CLIENT_SECRET" : "SCAIKEY_CLIENT_ID", "SCAIKEY_CLIENT_ID and SCAIKEY_CLIENT_SECRET must be set together");
  if (clientId && !env.SCAIKEY_URL) throw new ConfigError("SCAIKEY_URL", "is needed with SCAIKEY_CLIENT_ID (the directory to sync from)");
  const maxTtl = env.SCAIVAULT_PERSONAL_TOKEN_MAX_TTL;
  const ttlMs = durationMs("SCAIVAULT_PERSONAL_TOKEN_MAX_TTL", maxTtl, 365 * 86_400_000);
  return {
    directory: clientId && clientSecret ? { clientId, clientSecret } : null,
    webhookSecret: env.SCAIKEY_WEBHOOK_SECRET || null,
    syncIntervalMs: offOrDurationMs("SCAIVAULT_IDENTITY_SYNC_INTERVAL", env.SCAIVAULT_IDENTITY_SYNC_INTERVAL, 15 * 60_000),
    personalTokenMaxTtlSeconds: Math.max(1, Math.floor(ttlMs / 1000)),
    maxTrustsPerTenant: positiveInt("SCAIVAULT_MAX_TRUSTS_PER_TENANT", env.SCAIVAULT_MAX_TRUSTS_PER_TENANT, 100),
  };
}

export function loadConfig(processEnv: Env = process.env): VaultConfig {
  const env: Env = { ...loadFileEnv(processEnv), ...processEnv };
  const bind = parseBind(env.BIND_ADDRESS);
  const certFile = env.TLS_CERT_FILE || undefined;
  const keyFile = env.TLS_KEY_FILE || undefined;
  if (Boolean(certFile) !== Boolean(keyFile)) {
    throw new ConfigError(certFile ? "TLS_KEY_FILE" : "TLS_CERT_FILE", "TLS_CERT_FILE and TLS_KEY_FILE must be set together");
  }
  if (certFile) readableFile("TLS_CERT_FILE", certFile);
  if (keyFile) readableFile("TLS_KEY_FILE", keyFile);
  const bootstrapToken = env.SCAIVAULT_BOOTSTRAP_TOKEN || null;
  if (bootstrapToken !== null && !/^skt_[A-Za-z0-9_-]{32,200}$/.test(bootstrapToken)) {
    throw new ConfigError("SCAIVAULT_BOOTSTRAP_TOKEN", "must look like skt_ followed by at least 32 letters, digits, - or _");
  }
  const rateLimits: Record<string, number> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith(RATE_PREFIX) && value !== undefined && value !== "") rateLimits[name.slice(RATE_PREFIX.length).toLowerCase()] = positiveInt(name, value, 1);
  }
  const issuers = (env.SCAIKEY_ISSUERS ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const cooldown = env.SCAIKEY_JWKS_COOLDOWN_SECONDS;
  if (cooldown !== undefined && cooldown !== "" && !/^\d{1,5}$/.test(cooldown)) {
    throw new ConfigError("SCAIKEY_JWKS_COOLDOWN_SECONDS", `must be a whole number of seconds (got "${cooldown}")`);
  }
  return {
    bindHost: bind.host,
    bindPort: bind.port,
    baseUrl: url("BASE_URL", env.BASE_URL),
    databaseUrl: parseDatabaseUrl(env.DATABASE_URL),
    databasePoolSize: positiveInt("DATABASE_POOL_SIZE", env.DATABASE_POOL_SIZE, 10),
    databasePreparedStatements: bool("DATABASE_PREPARED_STATEMENTS", env.DATABASE_PREPARED_STATEMENTS, true),
    redisUrl: url("REDIS_URL", env.REDIS_URL, ["redis:", "rediss:"]),
    scaikey: {
      url: url("SCAIKEY_URL", env.SCAIKEY_URL),
      jwksUrl: url("SCAIKEY_JWKS_URL", env.SCAIKEY_JWKS_URL),
      audience: env.SCAIKEY_AUDIENCE || null,
      issuers,
      jwksCooldownSeconds: cooldown ? Number(cooldown) : 10,
    },
    kms: {
      provider: oneOf("KMS_PROVIDER", env.KMS_PROVIDER, ["local"] as const, "local"),
      localKey: parseLocalKey(env.KMS_LOCAL_KEY),
      localKeyFile: env.KMS_LOCAL_KEY_FILE || "./data/root.key",
    },
    logLevel: oneOf("LOG_LEVEL", env.LOG_LEVEL?.toLowerCase(), ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const, "info"),
    // The docs name `text`; `pretty` is the README's word for the same human format.
    logRequests: oneOf("SCAIVAULT_LOG_REQUESTS", env.SCAIVAULT_LOG_REQUESTS?.toLowerCase(), ["all", "changes", "errors"] as const, ["debug", "trace"].includes(env.LOG_LEVEL?.toLowerCase() ?? "") ? "all" : "changes"),
    logSlowMs: positiveInt("SCAIVAULT_LOG_SLOW_MS", env.SCAIVAULT_LOG_SLOW_MS, 1000),
    logFormat: oneOf("LOG_FORMAT", env.LOG_FORMAT?.toLowerCase(), ["json", "pretty", "text"] as const, "json") === "json" ? "json" : "pretty",
    bootstrapToken,
    // access-sec: the bootstrap token file lives in the data directory (the root key's).
    bootstrap: {
      tokenFile: join(dirname(env.KMS_LOCAL_KEY_FILE || "./data/root.key"), "bootstrap-token"),
      printToken: bool("SCAIVAULT_PRINT_BOOTSTRAP_TOKEN", env.SCAIVAULT_PRINT_BOOTSTRAP_TOKEN),
    },
    webhookAllowPrivate: bool("SCAIVAULT_WEBHOOK_ALLOW_PRIVATE", env.SCAIVAULT_WEBHOOK_ALLOW_PRIVATE),
    rateLimits,
    tls: certFile && keyFile ? { certFile, keyFile } : null,
    auditSync: oneOf("SCAIVAULT_AUDIT_SYNC", env.SCAIVAULT_AUDIT_SYNC?.toLowerCase(), ["normal", "full"] as const, "normal"),
    storageGuards: bool("SCAIVAULT_STORAGE_GUARDS", env.SCAIVAULT_STORAGE_GUARDS),
    auditExportDir: env.SCAIVAULT_AUDIT_EXPORT_DIR || "./data/exports",
    maxSecretBytes: positiveInt("SCAIVAULT_MAX_SECRET_BYTES", env.SCAIVAULT_MAX_SECRET_BYTES, 64 * 1024),
    maxBodyBytes: positiveInt("SCAIVAULT_MAX_BODY_BYTES", env.SCAIVAULT_MAX_BODY_BYTES, 1024 * 1024),
    // --- audit (round 3) ---
    audit: {
      checkpointIntervalMs: durationMs("SCAIVAULT_AUDIT_CHECKPOINT_INTERVAL", env.SCAIVAULT_AUDIT_CHECKPOINT_INTERVAL, 60_000) || 60_000,
      minRetentionDays: wholeNumber("SCAIVAULT_AUDIT_MIN_RETENTION_DAYS", env.SCAIVAULT_AUDIT_MIN_RETENTION_DAYS, 90),
      retentionReductionDelayMs: durationMs("SCAIVAULT_AUDIT_RETENTION_REDUCTION_DELAY", env.SCAIVAULT_AUDIT_RETENTION_REDUCTION_DELAY, 7 * 86_400_000),
      pruneIntervalMs: durationMs("SCAIVAULT_AUDIT_PRUNE_INTERVAL", env.SCAIVAULT_AUDIT_PRUNE_INTERVAL, 600_000) || 600_000,
      pruneBatch: positiveInt("SCAIVAULT_AUDIT_PRUNE_BATCH", env.SCAIVAULT_AUDIT_PRUNE_BATCH, 500),
      rollupIntervalMs: durationMs("SCAIVAULT_AUDIT_ROLLUP_INTERVAL", env.SCAIVAULT_AUDIT_ROLLUP_INTERVAL, 600_000) || 600_000,
      exportCallTimeoutMs: durationMs("SCAIVAULT_AUDIT_EXPORT_CALL_TIMEOUT", env.SCAIVAULT_AUDIT_EXPORT_CALL_TIMEOUT, 30_000) || 30_000,
      exportLeaseMs: durationMs("SCAIVAULT_AUDIT_EXPORT_LEASE", env.SCAIVAULT_AUDIT_EXPORT_LEASE, 60_000) || 60_000,
    },
    ops: {
      maxEventLoopDelayMs: durationMs("SCAIVAULT_MAX_EVENT_LOOP_DELAY", env.SCAIVAULT_MAX_EVENT_LOOP_DELAY, 200) || 200,
      maxHeapBytes: env.SCAIVAULT_MAX_HEAP_MB ? positiveInt("SCAIVAULT_MAX_HEAP_MB", env.SCAIVAULT_MAX_HEAP_MB, 1) * 1024 * 1024 : null,
      maxConcurrentRequests: positiveInt("SCAIVAULT_MAX_CONCURRENT_REQUESTS", env.SCAIVAULT_MAX_CONCURRENT_REQUESTS, 1024),
      shutdownTimeoutMs: durationMs("SCAIVAULT_SHUTDOWN_TIMEOUT", env.SCAIVAULT_SHUTDOWN_TIMEOUT, 25_000) || 25_000,
      requestTimeoutMs: durationMs("SCAIVAULT_REQUEST_TIMEOUT", env.SCAIVAULT_REQUEST_TIMEOUT, 30_000) || 30_000,
      maxHeaderBytes: positiveInt("SCAIVAULT_MAX_HEADER_BYTES", env.SCAIVAULT_MAX_HEADER_BYTES, 16 * 1024),
    },
    events: {
      retryScheduleMs: durationListMs("SCAIVAULT_WEBHOOK_RETRY_SCHEDULE", env.SCAIVAULT_WEBHOOK_RETRY_SCHEDULE, [5e3, 3e5, 18e5, 72e5, 18e6, 36e6, 36e6]),
      webhookTimeoutMs: durationMs("SCAIVAULT_WEBHOOK_TIMEOUT", env.SCAIVAULT_WEBHOOK_TIMEOUT, 10_000) || 10_000,
      pollIntervalMs: durationMs("SCAIVAULT_EVENTS_POLL_INTERVAL", env.SCAIVAULT_EVENTS_POLL_INTERVAL, 1000) || 1000,
      sseHeartbeatMs: durationMs("SCAIVAULT_SSE_HEARTBEAT", env.SCAIVAULT_SSE_HEARTBEAT, 15_000) || 15_000,
      maxWebhooksPerTenant: positiveInt("SCAIVAULT_MAX_WEBHOOKS_PER_TENANT", env.SCAIVAULT_MAX_WEBHOOKS_PER_TENANT, 100),
      maxSubscriptionsPerTenant: positiveInt("SCAIVAULT_MAX_SUBSCRIPTIONS_PER_TENANT", env.SCAIVAULT_MAX_SUBSCRIPTIONS_PER_TENANT, 1000),
      maxSubscriptionsPerIdentity: positiveInt("SCAIVAULT_MAX_SUBSCRIPTIONS_PER_IDENTITY", env.SCAIVAULT_MAX_SUBSCRIPTIONS_PER_IDENTITY, 100),
    },
    resilience: {
      maxStreamsPerIdentity: positiveInt("SCAIVAULT_MAX_STREAMS_PER_IDENTITY", env.SCAIVAULT_MAX_STREAMS_PER_IDENTITY, 10),
      maxStreamsPerTenant: positiveInt("SCAIVAULT_MAX_STREAMS_PER_TENANT", env.SCAIVAULT_MAX_STREAMS_PER_TENANT, 100),
      credentialRecheckMs: durationMs("SCAIVAULT_CREDENTIAL_RECHECK", env.SCAIVAULT_CREDENTIAL_RECHECK, 2000) || 2000,
      // One core left to requests: generation runs off the event loop, but on the same cores.
      keygenConcurrency: positiveInt("SCAIVAULT_KEYGEN_CONCURRENCY", env.SCAIVAULT_KEYGEN_CONCURRENCY, Math.max(1, availableParallelism() - 1)),
      databaseAcquireTimeoutMs: durationMs("DATABASE_ACQUIRE_TIMEOUT", env.DATABASE_ACQUIRE_TIMEOUT, 2000) || 2000,
      databaseQueryTimeoutMs: durationMs("DATABASE_QUERY_TIMEOUT", env.DATABASE_QUERY_TIMEOUT, 5000) || 5000,
      databaseLongQueryTimeoutMs: durationMs("DATABASE_LONG_QUERY_TIMEOUT", env.DATABASE_LONG_QUERY_TIMEOUT, 600_000) || 600_000,
      metricsRequireToken: bool("SCAIVAULT_METRICS_REQUIRE_TOKEN", env.SCAIVAULT_METRICS_REQUIRE_TOKEN),
      metricsStorageIntervalMs: durationMs("SCAIVAULT_METRICS_STORAGE_INTERVAL", env.SCAIVAULT_METRICS_STORAGE_INTERVAL, 10_000),
      eventsRetentionMs: durationMs("SCAIVAULT_EVENTS_RETENTION", env.SCAIVAULT_EVENTS_RETENTION, 30 * 86_400_000) || 30 * 86_400_000,
      retentionIntervalMs: durationMs("SCAIVAULT_RETENTION_INTERVAL", env.SCAIVAULT_RETENTION_INTERVAL, 3_600_000) || 3_600_000,
      credentialsRetentionMs: offOrDurationMs("SCAIVAULT_CREDENTIALS_RETENTION", env.SCAIVAULT_CREDENTIALS_RETENTION, 30 * 86_400_000),
      rotationHistoryRetentionMs: offOrDurationMs("SCAIVAULT_ROTATION_HISTORY_RETENTION", env.SCAIVAULT_ROTATION_HISTORY_RETENTION, 365 * 86_400_000),
    },
    identity: identityConfig(env),
    rotation: {
      schedulerEnabled: bool("SCAIVAULT_SCHEDULER", env.SCAIVAULT_SCHEDULER, true),
      pollMs: durationMs("SCAIVAULT_SCHEDULER_POLL", env.SCAIVAULT_SCHEDULER_POLL, 1000) || 1000,
      reconcileMs: durationMs("SCAIVAULT_SCHEDULER_RECONCILE", env.SCAIVAULT_SCHEDULER_RECONCILE, 5000) || 5000,
    },
    dynamic: {
      pollMs: durationMs("SCAIVAULT_LEASE_POLL", env.SCAIVAULT_LEASE_POLL, 1000) || 1000,
      retryScheduleMs: durationListMs("SCAIVAULT_LEASE_RETRY_SCHEDULE", env.SCAIVAULT_LEASE_RETRY_SCHEDULE, [5e3, 3e4, 12e4, 6e5, 18e5, 36e5]),
      maxLeasesPerIdentity: positiveInt("SCAIVAULT_MAX_LEASES_PER_IDENTITY", env.SCAIVAULT_MAX_LEASES_PER_IDENTITY, 1000),
    },
    // --- console (src/console)
    ui: {
      enabled: bool("SCAIVAULT_UI", env.SCAIVAULT_UI, true),
      sessionIdleMs: durationMs("SCAIVAULT_UI_SESSION_IDLE", env.SCAIVAULT_UI_SESSION_IDLE, 30 * 60_000) || 30 * 60_000,
      sessionMaxMs: durationMs("SCAIVAULT_UI_SESSION_MAX", env.SCAIVAULT_UI_SESSION_MAX, 12 * 3_600_000) || 12 * 3_600_000,
    },
    pki: {
      crlLifetimeMs: durationMs("SCAIVAULT_PKI_CRL_LIFETIME", env.SCAIVAULT_PKI_CRL_LIFETIME, 72 * 3_600_000) || 72 * 3_600_000,
      notifyBeforeMs: durationListMs("SCAIVAULT_PKI_NOTIFY_BEFORE", env.SCAIVAULT_PKI_NOTIFY_BEFORE, [30 * 86_400_000, 7 * 86_400_000, 86_400_000]).sort((a, b) => b - a),
      acmeHttpAddress: env.SCAIVAULT_ACME_HTTP_ADDRESS ? parseBind(env.SCAIVAULT_ACME_HTTP_ADDRESS, "SCAIVAULT_ACME_HTTP_ADDRESS") : null,
      acmeCaFile: env.SCAIVAULT_ACME_CA_FILE || null,
      csrTtlMs: durationMs("SCAIVAULT_PKI_CSR_TTL", env.SCAIVAULT_PKI_CSR_TTL, 30 * 86_400_000) || 30 * 86_400_000,
      acmeConcurrency: positiveInt("SCAIVAULT_ACME_CONCURRENCY", env.SCAIVAULT_ACME_CONCURRENCY, 4),
      maxOpenAcmeOrdersPerTenant: positiveInt("SCAIVAULT_MAX_OPEN_ACME_ORDERS_PER_TENANT", env.SCAIVAULT_MAX_OPEN_ACME_ORDERS_PER_TENANT, 100),
      maxTrustAnchorsPerTenant: positiveInt("SCAIVAULT_MAX_TRUST_ANCHORS_PER_TENANT", env.SCAIVAULT_MAX_TRUST_ANCHORS_PER_TENANT, 100),
      maxCasPerTenant: positiveInt("SCAIVAULT_MAX_CAS_PER_TENANT", env.SCAIVAULT_MAX_CAS_PER_TENANT, 1000),
    },
    dns: {
      timeoutMs: durationMs("SCAIVAULT_DNS_TIMEOUT", env.SCAIVAULT_DNS_TIMEOUT, 5000) || 5000,
      propagationTimeoutMs: durationMs("SCAIVAULT_DNS_PROPAGATION_TIMEOUT", env.SCAIVAULT_DNS_PROPAGATION_TIMEOUT, 120_000) || 120_000,
    },
  };
}
