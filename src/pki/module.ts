import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type { Authorizer } from "../access/authorizer.js";
import type { AuditRecorder } from "../audit/recorder.js";
import type { VaultConfig } from "../config/config.js";
import type { Keyring } from "../crypto/keyring.js";
import type { EventOutbox } from "../events/outbox.js";
import type { MetricRegistries } from "../ops/metrics.js";
import type { SecretsService } from "../secrets/service.js";
import type { SecretStore } from "../secrets/store.js";
import type { Database } from "../storage/contract.js";
import { createAcme } from "./acme/module.js";
import type { DnsChallengeSolver } from "./acme/dns-solver.js";
import { TrustAnchors } from "./anchors.js";
import { CaService } from "./ca-service.js";
import { CertificateService } from "./certificates.js";
import type { ExpensiveWork } from "../crypto/expensive-work.js";
import type { PkiDeps } from "./common.js";
import { CrlService } from "./crl.js";
import { CsrWorkflow } from "./csr-workflow.js";
import { ExpiryNotifier, registerCertificateMetrics } from "./expiry.js";
import { IssueService } from "./issue.js";
import { OcspResponder } from "./ocsp.js";
import { RoleService } from "./roles.js";
import { registerCaRoutes } from "./routes-ca.js";
import { registerCertificateRoutes } from "./routes-certs.js";
import { registerWorkflowRoutes } from "./routes-workflow.js";
import { PkiStore } from "./store.js";

export interface PkiModuleDeps {
  db: Database;
  keyring: Keyring;
  authorizer: Authorizer;
  audit: AuditRecorder;
  events: EventOutbox;
  secrets: SecretsService;
  secretStore: SecretStore;
  config: VaultConfig;
  registries?: MetricRegistries;
  /** dns-01 for ACME orders (the DNS providers domain); without it dns-01 orders answer 422. */
  dnsSolver?: DnsChallengeSolver;
  /** The node's generation gate: RSA keys take turns across tenants. */
  expensive: ExpensiveWork;
}

/** The PKI domain, wired: CAs, roles, issuance, certificates, CRLs, OCSP, CSRs, anchors, expiry notices (spec/pki.md). */
export function createPki(input: PkiModuleDeps) {
  const store = new PkiStore(input.db);
  const deps: PkiDeps = { ...input, store, config: { baseUrl: input.config.baseUrl, ...input.config.pki } };
  const cas = new CaService(deps);
  const roles = new RoleService(deps, cas);
  const issue = new IssueService(deps, cas, roles);
  const certs = new CertificateService(deps, cas);
  const crls = new CrlService(deps, cas);
  const ocsp = new OcspResponder(store);
  const csrs = new CsrWorkflow(deps, cas, roles, issue);
  const anchors = new TrustAnchors(deps);
  if (input.registries) registerCertificateMetrics(input.db, input.registries.stored);
  const acme = createAcme({ deps, dnsSolver: input.dnsSolver, registry: input.registries?.live, caFile: input.config.pki.acmeCaFile, httpAddress: input.config.pki.acmeHttpAddress, pollMs: input.config.rotation.pollMs });
  certs.revokeAtIssuer = (row, reason) => acme.accounts.revokeCertificate(row, reason);
  let notifier: ExpiryNotifier | null = null;
  return {
    register(app: FastifyInstance): void {
      registerCaRoutes(app, { cas, crls, ocsp, store });
      registerCertificateRoutes(app, { roles, issue, certs });
      registerWorkflowRoutes(app, { csrs, anchors });
      acme.register(app);
    },
    /** Expiry notices run wherever the scheduler runs (SCAIVAULT_SCHEDULER): each fires once across nodes. */
    start(log: FastifyBaseLogger): void {
      acme.start(log, input.config.rotation.schedulerEnabled);
      if (!input.config.rotation.schedulerEnabled || notifier) return;
      notifier = new ExpiryNotifier({ db: input.db, events: input.events, thresholdsMs: input.config.pki.notifyBeforeMs, pollMs: input.config.rotation.pollMs, log });
      notifier.start();
    },
    async stop(): Promise<void> {
      await acme.stop();
      await notifier?.stop();
      notifier = null;
    },
  };
}
