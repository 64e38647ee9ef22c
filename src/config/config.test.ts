import { chmodSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadLocalRootKey } from "../crypto/root-key.js";
import { ConfigError, loadConfig } from "./config.js";

const dir = mkdtempSync(join(tmpdir(), "scaivault-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `work` and answers the ConfigError it threw (failing the test if it threw anything else). */
function configErrorOf(work: () => unknown): ConfigError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError, but nothing was thrown");
}

describe("configuration", () => {
  it("has the documented defaults with an empty environment", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      bindHost: "127.0.0.1",
      bindPort: 8443,
      databaseUrl: "sqlite:./data/scaivault.db",
      redisUrl: null,
      kms: { provider: "local", localKey: null, localKeyFile: "./data/root.key" },
      logLevel: "info",
      logFormat: "json",
      logRequests: "changes",
      logSlowMs: 1000,
      bootstrapToken: null,
      webhookAllowPrivate: false,
      auditSync: "normal",
      maxSecretBytes: 65536,
      tls: null,
    });
  });

  it("has the resilience defaults of issue 13 and reads their variables", () => {
    expect(loadConfig({})).toMatchObject({
      ops: { requestTimeoutMs: 30_000 },
      resilience: {
        maxStreamsPerIdentity: 10, maxStreamsPerTenant: 100, credentialRecheckMs: 2000,
        databaseAcquireTimeoutMs: 2000, databaseQueryTimeoutMs: 5000, databaseLongQueryTimeoutMs: 600_000,
        metricsRequireToken: false, eventsRetentionMs: 30 * 86_400_000, credentialsRetentionMs: 30 * 86_400_000, rotationHistoryRetentionMs: 365 * 86_400_000,
      },
    });
    const set = loadConfig({
      SCAIVAULT_MAX_STREAMS_PER_IDENTITY: "3", SCAIVAULT_MAX_STREAMS_PER_TENANT: "7", DATABASE_ACQUIRE_TIMEOUT: "1s", DATABASE_QUERY_TIMEOUT: "3s",
      SCAIVAULT_REQUEST_TIMEOUT: "10s", SCAIVAULT_EVENTS_RETENTION: "7d", SCAIVAULT_CREDENTIALS_RETENTION: "90d",
    });
    expect(set.ops.requestTimeoutMs).toBe(10_000);
    expect(set.resilience).toMatchObject({ maxStreamsPerIdentity: 3, maxStreamsPerTenant: 7, databaseAcquireTimeoutMs: 1000, databaseQueryTimeoutMs: 3000, eventsRetentionMs: 7 * 86_400_000, credentialsRetentionMs: 90 * 86_400_000 });
    expect(loadConfig({ SCAIVAULT_CREDENTIALS_RETENTION: "off" }).resilience.credentialsRetentionMs).toBeNull();
    expect(loadConfig({ SCAIVAULT_CREDENTIALS_RETENTION: " OFF " }).resilience.credentialsRetentionMs).toBeNull();
    expect(loadConfig({ SCAIVAULT_ROTATION_HISTORY_RETENTION: "off" }).resilience.rotationHistoryRetentionMs).toBeNull();
    expect(loadConfig({ SCAIVAULT_KEYGEN_CONCURRENCY: "3" }).resilience.keygenConcurrency).toBe(3);
    expect(loadConfig({}).resilience.keygenConcurrency).toBe(Math.max(1, availableParallelism() - 1));
    expect(loadConfig({ SCAIVAULT_ROTATION_HISTORY_RETENTION: "90d" }).resilience.rotationHistoryRetentionMs).toBe(90 * 86_400_000);
    expect(loadConfig({}).pki.csrTtlMs).toBe(30 * 86_400_000);
    expect(loadConfig({ SCAIVAULT_PKI_CSR_TTL: "7d" }).pki.csrTtlMs).toBe(7 * 86_400_000);
    expect(() => loadConfig({ SCAIVAULT_PKI_CSR_TTL: "soon" })).toThrow(/SCAIVAULT_PKI_CSR_TTL/);
    expect(loadConfig({}).pki).toMatchObject({ acmeConcurrency: 4, maxOpenAcmeOrdersPerTenant: 100, maxTrustAnchorsPerTenant: 100 });
    expect(loadConfig({ SCAIVAULT_MAX_TRUST_ANCHORS_PER_TENANT: "5" }).pki.maxTrustAnchorsPerTenant).toBe(5);
    expect(loadConfig({}).pki.maxCasPerTenant).toBe(1000);
    expect(loadConfig({ SCAIVAULT_MAX_CAS_PER_TENANT: "3" }).pki.maxCasPerTenant).toBe(3);
    expect(loadConfig({ SCAIVAULT_ACME_CONCURRENCY: "8", SCAIVAULT_MAX_OPEN_ACME_ORDERS_PER_TENANT: "10" }).pki).toMatchObject({ acmeConcurrency: 8, maxOpenAcmeOrdersPerTenant: 10 });
    expect(() => loadConfig({ SCAIVAULT_ACME_CONCURRENCY: "0" })).toThrow(/SCAIVAULT_ACME_CONCURRENCY/);
  });

  it("reads good values of every kind", () => {
    const key = Buffer.alloc(32, 7).toString("base64");
    const config = loadConfig({
      BIND_ADDRESS: "[::1]:9000",
      DATABASE_URL: "postgresql://vault@db.internal:5432/vault",
      KMS_LOCAL_KEY: key,
      LOG_LEVEL: "DEBUG",
      SCAIVAULT_WEBHOOK_ALLOW_PRIVATE: "true",
      RATE_LIMIT_READ: "5000",
      SCAIKEY_ISSUERS: "https://a.example, https://b.example",
    });
    expect(config.databasePreparedStatements).toBe(true);
    expect(loadConfig({ DATABASE_PREPARED_STATEMENTS: "false" }).databasePreparedStatements).toBe(false);
    expect(config.bindHost).toBe("::1");
    expect(config.bindPort).toBe(9000);
    expect(config.kms.localKey?.equals(Buffer.alloc(32, 7))).toBe(true);
    expect(config.logLevel).toBe("debug");
    expect(config.webhookAllowPrivate).toBe(true);
    expect(config.rateLimits.read).toBe(5000);
    expect(config.scaikey.issuers).toEqual(["https://a.example", "https://b.example"]);
  });

  const bad: Array<[string, string]> = [
    ["BIND_ADDRESS", "8443"],
    ["BIND_ADDRESS", "localhost:99999"],
    ["BIND_ADDRESS", "127.0.0.1:http"],
    ["DATABASE_URL", "mysql://db/vault"],
    ["DATABASE_URL", "sqlite:"],
    ["DATABASE_POOL_SIZE", "0"],
    ["DATABASE_POOL_SIZE", "ten"],
    ["DATABASE_PREPARED_STATEMENTS", "sometimes"],
    ["BASE_URL", "not a url"],
    ["REDIS_URL", "redis-host:6379 x"],
    ["REDIS_URL", "http://cache:6379"],
    ["SCAIKEY_URL", "ftp://scaikey.example"],
    ["SCAIKEY_URL", "scaikey"],
    ["SCAIKEY_JWKS_URL", "::"],
    ["KMS_PROVIDER", "aws-ish"],
    ["KMS_LOCAL_KEY", "c2hvcnQ="],
    ["KMS_LOCAL_KEY", "not base64 at all!"],
    ["LOG_LEVEL", "verbose"],
    ["LOG_FORMAT", "xml"],
    ["SCAIVAULT_BOOTSTRAP_TOKEN", "admin"],
    ["SCAIVAULT_BOOTSTRAP_TOKEN", "skt_short"],
    ["SCAIVAULT_WEBHOOK_ALLOW_PRIVATE", "maybe"],
    ["SCAIVAULT_AUDIT_SYNC", "always"],
    ["SCAIVAULT_MAX_SECRET_BYTES", "-1"],
    ["SCAIVAULT_MAX_SECRET_BYTES", "64k"],
    ["SCAIVAULT_MAX_BODY_BYTES", "1.5"],
    ["RATE_LIMIT_READ", "lots"],
    ["RATE_LIMIT_WRITE", "0"],
    ["SCAIVAULT_CREDENTIALS_RETENTION", "never"],
    ["SCAIVAULT_KEYGEN_CONCURRENCY", "0"],
  ];

  for (const [variable, value] of bad) {
    it(`stops on ${variable}=${JSON.stringify(value)} with a message naming ${variable}`, () => {
      const error = configErrorOf(() => loadConfig({ [variable]: value }));
      expect(error.variable).toBe(variable);
      expect(error.message.startsWith(`${variable}:`)).toBe(true);
    });
  }

  it("never echoes a rejected KMS_LOCAL_KEY or bootstrap token (they may be nearly right secrets)", () => {
    const nearlyKey = Buffer.alloc(31, 9).toString("base64");
    expect(configErrorOf(() => loadConfig({ KMS_LOCAL_KEY: nearlyKey })).message).not.toContain(nearlyKey);
    const nearlyToken = "skt_" + "x".repeat(20);
    expect(configErrorOf(() => loadConfig({ SCAIVAULT_BOOTSTRAP_TOKEN: nearlyToken })).message).not.toContain(nearlyToken);
  });

  it("never echoes a database password in the DATABASE_URL message", () => {
    const error = configErrorOf(() => loadConfig({ DATABASE_URL: "mysql://vault:hunter2@db/vault" }));
    expect(error.message).not.toContain("hunter2");
  });

  it("requires TLS_CERT_FILE and TLS_KEY_FILE together, and readable", () => {
    const cert = join(dir, "cert.pem");
    writeFileSync(cert, "not really a cert");
    expect(configErrorOf(() => loadConfig({ TLS_CERT_FILE: cert })).variable).toBe("TLS_KEY_FILE");
    expect(configErrorOf(() => loadConfig({ TLS_KEY_FILE: cert })).variable).toBe("TLS_CERT_FILE");
    expect(configErrorOf(() => loadConfig({ TLS_CERT_FILE: cert, TLS_KEY_FILE: join(dir, "missing.pem") })).variable).toBe("TLS_KEY_FILE");
    expect(configErrorOf(() => loadConfig({ TLS_CERT_FILE: dir, TLS_KEY_FILE: cert })).variable).toBe("TLS_CERT_FILE");
    expect(loadConfig({ TLS_CERT_FILE: cert, TLS_KEY_FILE: cert }).tls).toEqual({ certFile: cert, keyFile: cert });
  });

  it("reads SCAIVAULT_CONFIG as a JSON file, the environment winning, and names it when unreadable", () => {
    const file = join(dir, "config.json");
    writeFileSync(file, JSON.stringify({ LOG_LEVEL: "warn", BIND_ADDRESS: "0.0.0.0:9443" }));
    const config = loadConfig({ SCAIVAULT_CONFIG: file, LOG_LEVEL: "error" });
    expect(config.logLevel).toBe("error");
    expect(config.bindPort).toBe(9443);
    expect(configErrorOf(() => loadConfig({ SCAIVAULT_CONFIG: join(dir, "nope.json") })).variable).toBe("SCAIVAULT_CONFIG");
    writeFileSync(join(dir, "array.json"), "[1]");
    expect(configErrorOf(() => loadConfig({ SCAIVAULT_CONFIG: join(dir, "array.json") })).variable).toBe("SCAIVAULT_CONFIG");
    writeFileSync(join(dir, "bad.json"), JSON.stringify({ LOG_LEVEL: "chatty" }));
    expect(configErrorOf(() => loadConfig({ SCAIVAULT_CONFIG: join(dir, "bad.json") })).variable).toBe("LOG_LEVEL");
  });

  it("names KMS_LOCAL_KEY_FILE when the root key file is unusable", () => {
    const loose = join(dir, "loose.key");
    writeFileSync(loose, `${Buffer.alloc(32, 1).toString("base64")}\n`, { mode: 0o644 });
    chmodSync(loose, 0o644);
    expect(configErrorOf(() => loadLocalRootKey(null, loose)).variable).toBe("KMS_LOCAL_KEY_FILE");
    const short = join(dir, "short.key");
    writeFileSync(short, "c2hvcnQ=\n", { mode: 0o600 });
    expect(configErrorOf(() => loadLocalRootKey(null, short)).variable).toBe("KMS_LOCAL_KEY_FILE");
    const folder = join(dir, "a-directory.key");
    mkdirSync(folder);
    expect(configErrorOf(() => loadLocalRootKey(null, folder)).variable).toBe("KMS_LOCAL_KEY_FILE");
    writeFileSync(join(dir, "file-not-dir"), "");
    expect(configErrorOf(() => loadLocalRootKey(null, join(dir, "file-not-dir", "root.key"))).variable).toBe("KMS_LOCAL_KEY_FILE");
  });
});
