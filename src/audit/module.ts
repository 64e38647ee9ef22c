import type { FastifyInstance } from "fastify";
import type { Authorizer } from "../access/authorizer.js";
import type { Keyring } from "../crypto/keyring.js";
import type { Database } from "../storage/contract.js";
import { PostgresDatabase } from "../storage/postgres.js";
import { AuditLog } from "./audit-log.js";
import { ChainAppender, ChainHasher } from "./chain.js";
import { AuditExports } from "./export.js";
import { AuditQueries } from "./query.js";
import { AuditRecorder } from "./recorder.js";
import { registerAuditRoutes } from "./routes.js";
import { ChainVerifier } from "./verify.js";

export interface AuditTrailOptions {
  db: Database;
  keyring: Keyring;
  authorizer: Authorizer;
  sync: "normal" | "full";
  exportDir: string;
  /** The partner whose chain records requests that name no tenant (failed authentication). */
  unauthenticatedPartnerId: string;
  /**
   * PostgreSQL only: group commits get two connections of their own, so a batch never queues
   * for a pool connection behind the very requests that are waiting for it.
   */
  databaseUrl?: string;
  /** resilience: the PostgreSQL deadlines of the request path for the audit's own writer connections. */
  databaseDeadlines?: { acquireTimeoutMs: number; queryTimeoutMs: number; longQueryTimeoutMs: number };
}

export interface AuditTrail {
  recorder: AuditRecorder;
  verifier: ChainVerifier;
  registerRoutes(app: FastifyInstance): void;
  /** Lets pending group commits and export jobs finish, then releases the audit's own connections (before the database closes). */
  drain(): Promise<void>;
}

/** The audit domain, wired: one call from the composition root. */
export async function buildAuditTrail(options: AuditTrailOptions): Promise<AuditTrail> {
  const { db, keyring, authorizer } = options;
  const hasher = new ChainHasher(await keyring.systemKey("audit-chain"));
  const writer = db.dialect === "postgres" && options.databaseUrl ? new PostgresDatabase(options.databaseUrl, { max: 2, ...options.databaseDeadlines }) : null;
  const log = new AuditLog(writer ?? db, new ChainAppender(hasher, db.dialect), { sync: options.sync });
  const recorder = new AuditRecorder(log, options.unauthenticatedPartnerId, await keyring.hmacFor("audit"));
  const verifier = new ChainVerifier(db, hasher);
  const queries = new AuditQueries(db, authorizer);
  const exports = new AuditExports({ db, audit: recorder, exportRoot: options.exportDir });
  return {
    recorder,
    verifier,
    registerRoutes: (app) => registerAuditRoutes(app, { queries, verifier, exports }),
    async drain() {
      await exports.drain();
      await recorder.drain();
      await writer?.close();
    },
  };
}
