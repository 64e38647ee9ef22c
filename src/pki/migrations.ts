import type { Migration } from "../storage/contract.js";

/** PKI tables (migration range 0200–0249). Keys are stored only sealed under the tenant's key. */
export const pkiMigrations: Migration[] = [
  {
    id: "0200_pki",
    up: (t) => [
      `CREATE TABLE pki_cas (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        partner_id TEXT NOT NULL,
        name TEXT NOT NULL,
        common_name TEXT NOT NULL,
        ca_type TEXT NOT NULL,
        parent_ca_id TEXT,
        key_type TEXT NOT NULL,
        key_size INTEGER NOT NULL,
        serial_number TEXT NOT NULL,
        certificate_pem TEXT NOT NULL,
        key_ciphertext ${t.blob} NOT NULL,
        key_wrapped ${t.blob} NOT NULL,
        key_id TEXT NOT NULL,
        not_before BIGINT NOT NULL,
        not_after BIGINT NOT NULL,
        revoked_at BIGINT,
        revocation_reason TEXT,
        crl_number BIGINT NOT NULL,
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL
      )`,
      "CREATE UNIQUE INDEX pki_cas_name ON pki_cas (tenant_id, name)",
      "CREATE INDEX pki_cas_parent ON pki_cas (parent_ca_id)",
      `CREATE TABLE pki_roles (
        tenant_id TEXT NOT NULL,
        name TEXT NOT NULL,
        partner_id TEXT NOT NULL,
        ca_id TEXT NOT NULL,
        settings TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, name)
      )`,
      `CREATE TABLE pki_certificates (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        partner_id TEXT NOT NULL,
        ca_id TEXT NOT NULL,
        serial_number TEXT NOT NULL,
        common_name TEXT,
        alt_names TEXT NOT NULL,
        ip_sans TEXT NOT NULL,
        source TEXT NOT NULL,
        role TEXT,
        order_id TEXT,
        certificate_pem TEXT NOT NULL,
        not_before BIGINT NOT NULL,
        not_after BIGINT NOT NULL,
        revoked_at BIGINT,
        revocation_reason TEXT,
        secret_path TEXT,
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL
      )`,
      "CREATE UNIQUE INDEX pki_certificates_serial ON pki_certificates (ca_id, serial_number)",
      "CREATE INDEX pki_certificates_tenant ON pki_certificates (tenant_id, id)",
      "CREATE INDEX pki_certificates_tenant_serial ON pki_certificates (tenant_id, serial_number)",
      `CREATE TABLE pki_crls (
        ca_id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        crl_number BIGINT NOT NULL,
        der ${t.blob} NOT NULL,
        this_update BIGINT NOT NULL,
        next_update BIGINT NOT NULL,
        stale INTEGER NOT NULL
      )`,
      `CREATE TABLE pki_csrs (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        partner_id TEXT NOT NULL,
        role TEXT NOT NULL,
        csr_pem TEXT NOT NULL,
        state TEXT NOT NULL,
        common_name TEXT,
        alt_names TEXT NOT NULL,
        ip_sans TEXT NOT NULL,
        key_type TEXT NOT NULL,
        ttl TEXT,
        comment TEXT,
        requested_by TEXT NOT NULL,
        decided_by TEXT,
        reason TEXT,
        certificate_id TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
      "CREATE INDEX pki_csrs_tenant ON pki_csrs (tenant_id, state, id)",
      `CREATE TABLE pki_trust_anchors (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        partner_id TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        certificate_pem TEXT NOT NULL,
        subject TEXT NOT NULL,
        issuer TEXT NOT NULL,
        serial_number TEXT NOT NULL,
        fingerprint_sha256 TEXT NOT NULL,
        not_before BIGINT NOT NULL,
        not_after BIGINT NOT NULL,
        created_at BIGINT NOT NULL
      )`,
      "CREATE UNIQUE INDEX pki_trust_anchors_name ON pki_trust_anchors (tenant_id, name)",
    ],
  },
  {
    // Expiry notices (contract P6): the next notice a certificate owes and the thresholds announced.
    id: "0201_pki_expiry_notices",
    up: () => [
      "ALTER TABLE pki_certificates ADD COLUMN next_notice_at BIGINT",
      "ALTER TABLE pki_certificates ADD COLUMN notices_fired TEXT NOT NULL DEFAULT ''",
      "CREATE INDEX pki_certificates_notice ON pki_certificates (next_notice_at)",
    ],
  },
  {
    // A CRL lists the revoked certificates of its CA that are still (or recently) valid: read along
    // this index, not through every certificate the CA ever issued (docs/benchmarks.md round 23).
    id: "0202_pki_revoked_by_expiry",
    up: () => ["CREATE INDEX pki_certificates_revoked ON pki_certificates (ca_id, not_after) WHERE revoked_at IS NOT NULL"],
  },
  {
    // The metrics' live certificates (unrevoked, unexpired), read at every scrape of the public
    // /v1/metrics: along this index, not through every certificate ever issued (round 23).
    id: "0203_pki_live_by_expiry",
    up: () => ["CREATE INDEX pki_certificates_live ON pki_certificates (not_after, ca_id) WHERE revoked_at IS NULL"],
  },
  {
    // A pki:issue caller lists only the certificates it issued: along its own, not through the
    // tenant's whole history in id order filtered by creator (round 23).
    id: "0204_pki_certificates_by_creator",
    up: () => ["CREATE INDEX pki_certificates_creator ON pki_certificates (tenant_id, created_by, id)"],
  },
  {
    // A CA's certificates listed in id order: along the CA's own, not through the tenant's every
    // certificate filtered by CA (round 24).
    id: "0205_pki_certificates_by_ca",
    up: () => ["CREATE INDEX pki_certificates_ca_list ON pki_certificates (tenant_id, ca_id, id)"],
  },
  {
    // A CA's view counts what it issued from these rows (insertCert adds one in the issue's
    // transaction), not by reading its every certificate: 1M of them took 117-170 ms a view, and the
    // CA list counted each CA so (round 24). Existing certificates are counted once here.
    id: "0206_pki_issued_counts",
    up: () => [
      "CREATE TABLE pki_ca_issued (ca_id TEXT NOT NULL, shard INTEGER NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (ca_id, shard))",
      "INSERT INTO pki_ca_issued (ca_id, shard, n) SELECT ca_id, 0, COUNT(*) FROM pki_certificates GROUP BY ca_id",
    ],
  },
  {
    // ACME (contract P7, P8): accounts (keys sealed), orders (run_at is the claim column of the
    // background worker: pending work and renewals), http-01 tokens while pending, and the chain
    // an ACME certificate came with (it has no CA of ours).
    id: "0210_acme",
    up: (t) => [
      `CREATE TABLE acme_accounts (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        partner_id TEXT NOT NULL,
        name TEXT NOT NULL,
        provider TEXT NOT NULL,
        environment TEXT NOT NULL,
        directory_url TEXT NOT NULL,
        email TEXT,
        account_url TEXT NOT NULL,
        status TEXT NOT NULL,
        key_ciphertext ${t.blob} NOT NULL,
        key_wrapped ${t.blob} NOT NULL,
        key_id TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL
      )`,
      "CREATE UNIQUE INDEX acme_accounts_name ON acme_accounts (tenant_id, name)",
      `CREATE TABLE acme_orders (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        partner_id TEXT NOT NULL,
        account_id TEXT NOT NULL,
        domains TEXT NOT NULL,
        challenge_type TEXT NOT NULL,
        dns_provider_id TEXT,
        key_type TEXT NOT NULL,
        key_bits INTEGER NOT NULL,
        secret_path TEXT NOT NULL,
        auto_renew INTEGER NOT NULL,
        renew_before TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        certificate_id TEXT,
        serial_number TEXT,
        not_after BIGINT,
        renewals INTEGER NOT NULL,
        next_renewal_at BIGINT,
        run_at BIGINT,
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
      "CREATE INDEX acme_orders_tenant ON acme_orders (tenant_id, id)",
      "CREATE INDEX acme_orders_run ON acme_orders (run_at)",
      `CREATE TABLE acme_challenges (
        token TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        partner_id TEXT NOT NULL,
        order_id TEXT NOT NULL,
        key_authorization TEXT NOT NULL,
        created_at BIGINT NOT NULL
      )`,
      "ALTER TABLE pki_certificates ADD COLUMN chain_pem TEXT",
    ],
  },
  {
    // Credential retention finds revoked certificates past their end along this (the revoked index
    // leads with the CA, which a range on the end alone cannot use).
    id: "0207_pki_revoked_by_end",
    up: () => ["CREATE INDEX pki_certificates_revoked_end ON pki_certificates (not_after) WHERE revoked_at IS NOT NULL"],
  },
  {
    // The CSR and ACME order lists page in submission order (limit and cursor, SPEC §1) along these;
    // the state one serves a reviewer's `?state=pending`, which the old (tenant, state, id) could not order.
    id: "0211_pki_lists_by_time",
    up: () => [
      "CREATE INDEX pki_csrs_list ON pki_csrs (tenant_id, created_at, id)",
      "CREATE INDEX pki_csrs_state_list ON pki_csrs (tenant_id, state, created_at, id)",
      "DROP INDEX pki_csrs_tenant",
      "CREATE INDEX acme_orders_list ON acme_orders (tenant_id, created_at, id)",
    ],
  },
  {
    // Credential retention finds ended CSRs, finished ACME orders and challenges left by a crash along
    // these (src/pki/retention.ts): partial, so each holds only what may one day be pruned.
    id: "0212_pki_submissions_retention",
    up: () => [
      // Each predicate names a column the lists never filter on (always so for rows in that state),
      // so only the prune statements, which name it too, can use these: PostgreSQL took a plain
      // `WHERE state = 'pending'` one for a tenant's `?state=pending` page and sorted every tenant's queue.
      "CREATE INDEX pki_csrs_decided ON pki_csrs (updated_at) WHERE state <> 'pending' AND decided_by IS NOT NULL",
      "CREATE INDEX pki_csrs_pending ON pki_csrs (updated_at) WHERE state = 'pending' AND certificate_id IS NULL",
      "CREATE INDEX acme_orders_invalid ON acme_orders (updated_at) WHERE status = 'invalid' AND error IS NOT NULL",
      "CREATE INDEX acme_orders_valid_end ON acme_orders (not_after) WHERE status = 'valid' AND certificate_id IS NOT NULL",
      "CREATE INDEX acme_challenges_created ON acme_challenges (created_at)",
    ],
  },
  {
    // Order creation counts a tenant's orders not yet worked to their end (the open-order quota) along this.
    id: "0213_acme_orders_open",
    up: () => ["CREATE INDEX acme_orders_open ON acme_orders (tenant_id) WHERE status IN ('pending', 'processing')"],
  },
];
