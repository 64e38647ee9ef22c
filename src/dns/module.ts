import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type { AuditRecorder } from "../audit/recorder.js";
import type { VaultConfig } from "../config/config.js";
import type { Keyring } from "../crypto/keyring.js";
import type { SecretsService } from "../secrets/service.js";
import type { Database } from "../storage/contract.js";
import { registerDnsRoutes } from "./routes.js";
import { DnsProviderService } from "./service.js";
import { Rfc2136Solver } from "./solver.js";
import { DnsStore } from "./store.js";

export interface DnsModuleDeps {
  db: Database;
  keyring: Keyring;
  audit: AuditRecorder;
  secrets: SecretsService;
  config: VaultConfig;
  log?: FastifyBaseLogger;
}

/** DNS providers and the dns-01 solver (spec/pki.md P7). The solver is what ACME orders use. */
export function createDns(input: DnsModuleDeps) {
  const store = new DnsStore(input.db);
  const providers = new DnsProviderService({ ...input, store, config: input.config.dns });
  const solver = new Rfc2136Solver(store, providers, { timeoutMs: input.config.dns.timeoutMs, propagationTimeoutMs: input.config.dns.propagationTimeoutMs, log: input.log });
  return {
    providers,
    solver,
    register(app: FastifyInstance): void {
      registerDnsRoutes(app, { providers });
    },
  };
}
