import type { Transport } from "./transport.js";

const enc = encodeURIComponent;

/** A certificate authority (`POST /v1/pki/ca`). */
export interface PkiCa {
  id: string;
  name: string;
  common_name: string;
  ca_type: "root" | "intermediate";
  parent_ca_id: string | null;
  key_type: "rsa" | "ec";
  key_size: number;
  serial_number: string;
  valid_from: string;
  valid_until: string;
  is_active: boolean;
  revoked_at: string | null;
  certificates_issued: number;
  created_at: string;
}

export interface CreateCaBody {
  name: string;
  common_name: string;
  ca_type: "root" | "intermediate";
  parent_ca_id?: string;
  key_type?: "rsa" | "ec";
  key_size?: number;
  validity_days?: number;
}

export interface IssueCertificateBody {
  common_name: string;
  alt_names?: string[];
  ip_sans?: string[];
  ttl?: string;
}

/** An issued certificate; `private_key` only in the answer to `issue` (shown once). */
export interface IssuedCertificate {
  id: string;
  serial_number: string;
  certificate: string;
  ca_chain: string[];
  issuing_ca: string;
  not_before: string;
  not_after: string;
  secret_path: string | null;
  private_key?: string;
  private_key_type?: "rsa" | "ec";
}

export interface PkiCertificate {
  id: string;
  serial_number: string;
  common_name: string | null;
  alt_names: string[];
  ip_sans: string[];
  source: "issue" | "sign" | "csr" | "acme";
  ca_id: string;
  role: string | null;
  not_before: string;
  not_after: string;
  revoked_at: string | null;
  revocation_reason: string | null;
  secret_path: string | null;
  created_by: string;
}

/** An ACME account (`POST /v1/pki/acme/accounts`); its key never leaves the vault. */
export interface AcmeAccount {
  id: string;
  name: string;
  provider: "letsencrypt" | "zerossl" | "buypass" | "google" | "custom";
  environment: "production" | "staging";
  directory_url: string;
  email: string | null;
  status: string;
  account_url: string;
  created_at: string;
}

export interface CreateAcmeAccountBody {
  name: string;
  provider: AcmeAccount["provider"];
  environment?: AcmeAccount["environment"];
  email?: string;
  directory_url?: string;
  eab_kid?: string;
  eab_hmac_key?: string;
}

/** An ACME order (`POST /v1/pki/acme/orders`), worked in the background until `valid` or `invalid`. */
export interface AcmeOrder {
  id: string;
  account_id: string;
  domains: string[];
  challenge_type: "http-01" | "dns-01";
  dns_provider_id: string | null;
  key_type: "ec" | "rsa";
  key_bits: number;
  status: "pending" | "processing" | "valid" | "invalid";
  error: { type: string; detail: string } | null;
  certificate_id: string | null;
  serial_number: string | null;
  not_after: string | null;
  secret_path: string;
  auto_renew: boolean;
  renew_before: string;
  renewals: number;
  next_renewal_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface CreateAcmeOrderBody {
  account_id: string;
  domains: string[];
  challenge_type?: "http-01" | "dns-01";
  dns_provider_id?: string;
  key_type?: "ec" | "rsa";
  key_bits?: number;
  secret_path?: string;
  auto_renew?: boolean;
  renew_before?: string;
}

/** `/v1/pki`: create CAs, issue and sign under roles, revoke, ACME accounts and orders (spec/pki.md). */
export class PkiResource {
  constructor(private readonly http: Transport) {}

  createCa(body: CreateCaBody) { return this.http.request<PkiCa>({ method: "POST", path: "/v1/pki/ca", body }); }
  getCa(id: string) { return this.http.request<PkiCa>({ method: "GET", path: `/v1/pki/ca/${enc(id)}` }); }
  async listCas() { return (await this.http.request<{ data: PkiCa[] }>({ method: "GET", path: "/v1/pki/ca" })).data; }
  /** Revokes the CA and everything below it. */
  revokeCa(id: string, reason = "unspecified") { return this.http.request<PkiCa>({ method: "POST", path: `/v1/pki/ca/${enc(id)}/revoke`, body: { reason }, idempotent: true }); }
  /** Issues with a server-generated key: keep `private_key` from this answer, it is never shown again. */
  issue(role: string, body: IssueCertificateBody) { return this.http.request<IssuedCertificate>({ method: "POST", path: `/v1/pki/issue/${enc(role)}`, body }); }
  sign(role: string, body: { csr_pem: string; ttl?: string; common_name?: string; alt_names?: string[]; ip_sans?: string[] }) {
    return this.http.request<IssuedCertificate>({ method: "POST", path: `/v1/pki/sign/${enc(role)}`, body });
  }
  getCertificate(idOrSerial: string) { return this.http.request<PkiCertificate & { certificate: string; ca_chain: string[] }>({ method: "GET", path: `/v1/pki/certificates/${enc(idOrSerial)}` }); }
  /** Idempotent: revoking a revoked certificate answers it unchanged. */
  revoke(idOrSerial: string, reason = "unspecified") {
    return this.http.request<PkiCertificate>({ method: "POST", path: `/v1/pki/certificates/${enc(idOrSerial)}/revoke`, body: { reason }, idempotent: true });
  }

  createAcmeAccount(body: CreateAcmeAccountBody) { return this.http.request<AcmeAccount>({ method: "POST", path: "/v1/pki/acme/accounts", body }); }
  async listAcmeAccounts() { return (await this.http.request<{ data: AcmeAccount[] }>({ method: "GET", path: "/v1/pki/acme/accounts" })).data; }
  getAcmeAccount(id: string) { return this.http.request<AcmeAccount>({ method: "GET", path: `/v1/pki/acme/accounts/${enc(id)}` }); }
  /** Deactivates the account at its CA, then deletes it. */
  async deleteAcmeAccount(id: string) { await this.http.request<unknown>({ method: "DELETE", path: `/v1/pki/acme/accounts/${enc(id)}` }); }
  /** Answers at once (`pending`); poll `getAcmeOrder` until `valid` or `invalid`. */
  createAcmeOrder(body: CreateAcmeOrderBody) { return this.http.request<AcmeOrder>({ method: "POST", path: "/v1/pki/acme/orders", body }); }
  getAcmeOrder(id: string) { return this.http.request<AcmeOrder>({ method: "GET", path: `/v1/pki/acme/orders/${enc(id)}` }); }
  /** Every order the query matches, oldest first: follows the list's cursor a thousand at a time. */
  async listAcmeOrders(query: { status?: AcmeOrder["status"]; account_id?: string } = {}) {
    const orders: AcmeOrder[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: AcmeOrder[]; cursor: string | null; has_more: boolean } = await this.http.request({ method: "GET", path: "/v1/pki/acme/orders", query: { ...query, limit: 1000, cursor } });
      orders.push(...page.data);
      cursor = page.has_more ? page.cursor : null;
    } while (cursor !== null);
    return orders;
  }
  getAcmeOrderCertificate(id: string) {
    return this.http.request<{ certificate: string; ca_chain: string[]; serial_number: string; not_after: string; secret_path: string }>({ method: "GET", path: `/v1/pki/acme/orders/${enc(id)}/certificate` });
  }
  renewAcmeOrder(id: string) { return this.http.request<AcmeOrder>({ method: "POST", path: `/v1/pki/acme/orders/${enc(id)}/renew` }); }
}
