import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type { Authorizer } from "../access/authorizer.js";
import type { VaultConfig } from "../config/config.js";
import type { Keyring } from "../crypto/keyring.js";
import type { Database } from "../storage/contract.js";
import { PostgresDatabase, type PostgresOptions } from "../storage/postgres.js";
import { AuditLog } from "./audit-log.js";
import { ChainAppender, ChainHasher } from "./chain.js";
import { CheckpointSigner } from "./checkpoint-signer.js";
import { Checkpoints } from "./checkpoints.js";
import { AuditExports, type ExportDeps } from "./export.js";
import type { Caller } from "../http/context.js";
import { PeriodicJob } from "./jobs.js";
import { AuditQueries } from "./query.js";
import { AuditRecorder } from "./recorder.js";
import { AuditRetention } from "./retention.js";
import { AuditRollups } from "./rollups.js";
import { registerAuditRoutes } from "./routes.js";
import { ChainVerifier } from "./verify.js";
import type { SharedSlices } from "../shared/turn.js";

export interface AuditTrailOptions {
  db: Database;
  keyring: Keyring;
  authorizer: Authorizer;
  sync: "normal" | "full";
  exportDir: string;
  /** Checkpoints, retention and export settings (SCAIVAULT_AUDIT_*). */
  settings: VaultConfig["audit"];
  /** The partner whose chain records requests that name no tenant (failed authentication). */
  unauthenticatedPartnerId: string;
  /**
   * PostgreSQL only: group commits get two connections of their own, so a batch never queues
   * for a pool connection behind the very requests that are waiting for it.
   */
  databaseUrl?: string;
  /** The request path's PostgreSQL options (deadlines, prepared statements) for the audit's own writer connections. */
  postgres?: Omit<PostgresOptions, "max">;
  /** The node's shared slices of the loop, which verifications and exports take turns in. */
  walks: SharedSlices;
}

export interface AuditTrail {
  recorder: AuditRecorder;
  verifier: ChainVerifier;
  checkpoints: Checkpoints;
  retention: AuditRetention;
  /** How exports read object-store credentials: a secret read as the caller (set once the secrets reader exists). */
  useSecretReader(read: (caller: Caller, path: string) => Promise<Record<string, unknown>>): void;
  registerRoutes(app: FastifyInstance): void;
  /** Starts the background jobs (checkpoints, pruning, counting for summaries); each fires once per interval across nodes. */
  start(log: FastifyBaseLogger): void;
  /** Stops the jobs, lets pending group commits and export jobs finish, then releases the audit's own connections (before the database closes). */
  drain(): Promise<void>;
}

/** The audit domain, wired: one call from the composition root. */
export async function buildAuditTrail(options: AuditTrailOptions): Promise<AuditTrail> {
  const { db, keyring, authorizer, settings } = options;
  const hasher = new ChainHasher(await keyring.systemKey("audit-chain"));
  const writer = db.dialect === "postgres" && options.databaseUrl ? new PostgresDatabase(options.databaseUrl, { ...options.postgres, max: 2 }) : null;
  const log = new AuditLog(writer ?? db, new ChainAppender(hasher, db.dialect), { sync: options.sync });
  const recorder = new AuditRecorder(log, options.unauthenticatedPartnerId, await keyring.hmacFor("audit"));
  // Export jobs, pruning and counting are work off the request path: the long deadline and their
  // own connections (PostgreSQL), so none times out at 5 s nor holds request connections (issue 13).
  const background = db.background?.() ?? db;
  const checkpoints = new Checkpoints(db, new CheckpointSigner(await keyring.systemKey("audit-checkpoint-ed25519")));
  // Verifications and exports walk whole trails for any caller with the scope: one share of the
  // node's loop for all of them and the event streams' catch-ups (src/shared/turn.ts).
  const slices = options.walks;
  const verifier = new ChainVerifier(db, hasher, checkpoints, slices);
  // Counting runs off the request path (the background connections); summaries read the counts.
  const rollupJob = new AuditRollups(background, settings.rollupIntervalMs);
  const queries = new AuditQueries(db, authorizer, background === db ? rollupJob : new AuditRollups(db, settings.rollupIntervalMs));
  const exportDeps: ExportDeps = { db, jobDb: background, audit: recorder, exportRoot: options.exportDir, callTimeoutMs: settings.exportCallTimeoutMs, leaseMs: settings.exportLeaseMs, slices };
  const exports = new AuditExports(exportDeps);
  const retention = new AuditRetention({ db, audit: recorder, checkpoints, rollups: rollupJob }, settings);
  const pruner = background === db ? retention : new AuditRetention({ db: background, audit: recorder, checkpoints, rollups: rollupJob }, settings);
  const jobs: PeriodicJob[] = [];
  return {
    recorder,
    verifier,
    checkpoints,
    retention,
    useSecretReader(read) {
      exportDeps.readSecret = read;
    },
    registerRoutes: (app) => registerAuditRoutes(app, { queries, verifier, exports, checkpoints, retention }),
    start(logger) {
      const report = (message: string, error: unknown) => logger.error({ err: { name: (error as Error)?.name, kind: (error as { kind?: string })?.kind } }, message);
      jobs.push(new PeriodicJob("checkpoint", settings.checkpointIntervalMs, () => checkpoints.runPeriodic(settings.checkpointIntervalMs).then(() => undefined), report));
      jobs.push(new PeriodicJob("prune", settings.pruneIntervalMs, () => pruner.runPeriodic().then(() => undefined), report));
      jobs.push(new PeriodicJob("rollup", settings.rollupIntervalMs, () => rollupJob.runPeriodic().then(() => undefined), report));
      // Exports a crashed node left behind fail visibly, now and whenever a lease runs out.
      void exports.failInterrupted().catch((error) => report("audit export recovery failed", error));
      jobs.push(new PeriodicJob("export-recovery", settings.exportLeaseMs, () => exports.failInterrupted().then(() => undefined), report));
      for (const job of jobs) job.start();
    },
    async drain() {
      await Promise.all(jobs.map((job) => job.stop()));
      await exports.drain();
      await recorder.drain();
      await writer?.close();
    },
  };
}
