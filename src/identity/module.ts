import type { FastifyInstance } from "fastify";
import type { Authorizer } from "../access/authorizer.js";
import { asPolicyRule, assertGrantsCovered } from "../access/escalation.js";
import type { PolicyStore } from "../access/policy-store.js";
import type { VaultTokens } from "../access/vault-tokens.js";
import type { RequestLimits } from "../http/pipeline.js";
import { registerExchange } from "./exchange.js";
import { TrustStore } from "./trust-store.js";
import { registerTrustRoutes } from "./trusts.js";
import type { AuditRecorder } from "../audit/recorder.js";
import type { VaultConfig } from "../config/config.js";
import type { Keyring } from "../crypto/keyring.js";
import type { EventOutbox } from "../events/outbox.js";
import type { Database } from "../storage/contract.js";
import type { DirectoryClient } from "./directory-client.js";
import { IdentityGate } from "./gate.js";
import { registerRoleRoutes } from "./roles.js";
import { registerDirectoryRoutes } from "./routes.js";
import { ScaiKeyDirectory } from "./scaikey-directory.js";
import { IdentityStore } from "./store.js";
import { IdentitySync } from "./sync.js";
import { registerSyncRoutes } from "./sync-routes.js";
import { SyncStore } from "./sync-store.js";
import { registerScaiKeyWebhook } from "./webhook.js";

export interface IdentityDeps {
  db: Database;
  config: VaultConfig;
  keyring: Keyring;
  policies: PolicyStore;
  tokens: VaultTokens;
  audit: AuditRecorder;
  events: EventOutbox;
  fallbackPartnerId: string;
  log: (message: string, extra?: Record<string, unknown>) => void;
  /** Tests may put another directory behind the sync. */
  directory?: DirectoryClient | null;
  /** Decides whether a trust rule's writer covers what the rule grants (SPEC §4 no escalation). */
  authorizer?: Authorizer;
}

/** The identity domain: directory cache, syncs, the credential gate and the identity endpoints. */
export function createIdentity(deps: IdentityDeps) {
  const { db, config } = deps;
  const store = new IdentityStore(db);
  const syncs = new SyncStore(db);
  const directory = deps.directory !== undefined ? deps.directory : config.identity.directory && config.scaikey.url ? new ScaiKeyDirectory({ url: config.scaikey.url, ...config.identity.directory }) : null;
  const sync = new IdentitySync({ db, store, syncs, directory, keyring: deps.keyring, access: deps.policies, events: deps.events, audit: deps.audit, fallbackPartnerId: deps.fallbackPartnerId, log: deps.log });
  const gate = new IdentityGate(store, deps.policies);
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;

  const tick = async () => {
    const interval = config.identity.syncIntervalMs;
    if (stopped || interval === null) return;
    try {
      if (await syncs.claimScheduled(interval)) await sync.request({ partnerId: null, scope: { partnerId: null, tenantId: null }, trigger: "scheduled", triggeredBy: "system:identity-sync" });
    } catch (error) {
      deps.log("scheduled identity sync could not start", { error: (error as Error).name });
    }
    if (!stopped) timer = setTimeout(() => void tick(), Math.min(interval, 10_000));
  };

  return {
    store,
    syncs,
    sync,
    gate,
    /** `limits` charges exchanges to their source IP (there is no bearer to charge). */
    register(app: FastifyInstance, limits?: RequestLimits): void {
      registerDirectoryRoutes(app, store);
      registerSyncRoutes(app, { store, syncs, sync });
      registerRoleRoutes(app, { db, store, audit: deps.audit, access: deps.policies });
      registerScaiKeyWebhook(app, { secret: config.identity.webhookSecret, store, sync, limits });
      const trusts = new TrustStore(db, config.identity.maxTrustsPerTenant);
      const authorizer = deps.authorizer;
      // A rule hands its identity's grants to whoever holds a matching workload token: the writer
      // must hold them too (SPEC §4), as when issuing a token for that identity.
      const coverCheck = authorizer
        ? async (caller: Parameters<typeof assertGrantsCovered>[1], identityId: string) => {
            const target = await authorizer.compiledFor(caller.tenant.partnerId, caller.tenant.tenantId, [identityId], Date.now(), "none");
            await assertGrantsCovered(authorizer, caller, target.held.map(asPolicyRule), `write an exchange rule for ${identityId}`);
          }
        : null;
      registerTrustRoutes(app, { db, trusts, policies: deps.policies, audit: deps.audit, coverCheck });
      // Charged to the source address (IPv6 by /64) without remembering its Authorization header as
      // a credential that authenticated: the exchange never authenticates that header.
      registerExchange(app, { db, trusts, tokens: deps.tokens, gate, audit: deps.audit, chargeIp: limits ? (request, reply) => limits.chargeSource(request, reply, "exchange") : undefined });
    },
    /** The startup sync (when a directory is configured) and the scheduled one. */
    start(): void {
      if (!sync.configured) return;
      // A busy database at start (pool still filling) is retried a few times before giving up.
      const startup = async (attempt: number): Promise<void> => {
        try {
          await sync.request({ partnerId: null, scope: { partnerId: null, tenantId: null }, trigger: "startup", triggeredBy: "system:identity-sync" });
        } catch (error) {
          if (attempt >= 5 || stopped) return deps.log("startup identity sync could not start", { error: (error as Error).name });
          await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
          return startup(attempt + 1);
        }
      };
      void startup(1);
      if (config.identity.syncIntervalMs !== null) timer = setTimeout(() => void tick(), Math.min(config.identity.syncIntervalMs, 10_000));
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await sync.drain();
    },
  };
}
