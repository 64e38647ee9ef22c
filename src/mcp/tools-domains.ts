import { confirm, p, page, type ToolSpec } from "./tool.js";

const roleName = { role: p.str("PKI role name") };
const leaseId = { lease_id: p.str("lease id (lease_…)") };

/** PKI and dynamic credentials (spec/mcp.md §4: they join as their domains land). */
export const DOMAIN_TOOLS: ToolSpec[] = [
  {
    name: "issue_certificate", category: "pki", title: "Issue a certificate", kind: "write", mask: "issued",
    description: "Issue a certificate and private key under a PKI role (the key is shown in this answer only).",
    properties: { ...roleName, common_name: p.str("the certificate's CN"), alt_names: p.strings("DNS SANs"), ip_sans: p.strings("IP SANs"), ttl: p.str("e.g. 24h (capped by the role)") },
    required: ["role", "common_name"], route: { method: "POST", path: "/v1/pki/issue/{role}" },
  },
  {
    name: "sign_csr", category: "pki", title: "Sign a CSR", kind: "write", description: "Sign a certificate signing request under a PKI role (the key never leaves its owner).",
    properties: { ...roleName, csr_pem: p.str("the CSR in PEM"), ttl: p.str("e.g. 24h"), common_name: p.str("replaces the CSR's CN"), alt_names: p.strings("replace the CSR's DNS SANs"), ip_sans: p.strings("replace the CSR's IP SANs") },
    required: ["role", "csr_pem"], route: { method: "POST", path: "/v1/pki/sign/{role}" },
  },
  {
    name: "list_certificates", category: "pki", title: "List certificates", kind: "read", description: "Certificates issued by the tenant's CAs (never a private key).",
    properties: { ca_id: p.str("ca_…"), role: p.str("role name"), expiring_within: p.str("e.g. 30d"), include_revoked: p.bool("include revoked ones"), ...page },
    route: { method: "GET", path: "/v1/pki/certificates", query: ["ca_id", "role", "expiring_within", "include_revoked", "limit", "cursor"] },
  },
  {
    name: "revoke_certificate", category: "pki", title: "Revoke a certificate", kind: "destructive", description: "Revoke a certificate (listed on the CA's CRL, OCSP answers revoked).",
    properties: { certificate_id: p.str("cert_… or the serial number"), reason: p.str("RFC 5280 reason in snake_case, e.g. key_compromise"), ...confirm },
    required: ["certificate_id"], effect: (args) => `would revoke certificate ${String(args.certificate_id)} for good`,
    route: { method: "POST", path: "/v1/pki/certificates/{certificate_id}/revoke" },
  },
  { name: "list_dns_providers", category: "pki", title: "List DNS providers", kind: "read", description: "DNS providers for ACME dns-01 (never their credentials).", properties: {}, route: { method: "GET", path: "/v1/dns/providers" } },
  {
    name: "create_dns_provider", category: "pki", title: "Create a DNS provider", kind: "write",
    description: "Add a DNS provider for ACME dns-01 (rfc2136: config {server, tsig_key_name, tsig_algorithm, ttl}, credentials {tsig_secret}; sealed, never returned).",
    properties: {
      name: p.str("provider name"), provider_type: p.str("rfc2136 (cloudflare, route53: not available yet)"), config: p.obj("rfc2136: {server: \"host:port\", tsig_key_name, tsig_algorithm, ttl}"),
      credentials: p.obj("rfc2136: {tsig_secret: base64}"), managed_zones: p.strings("zones: \"zone\" or \"*.zone\""), verify: p.bool("check each zone's SOA first"),
    },
    required: ["name", "provider_type", "managed_zones"], route: { method: "POST", path: "/v1/dns/providers" },
  },
  {
    name: "create_acme_order", category: "pki", title: "Order an ACME certificate", kind: "write",
    description: "Order a public certificate from an ACME CA (worked in the background; the key goes to the order's certificate secret).",
    properties: { account_id: p.str("acme_… account"), domains: p.strings("DNS names (the first is the CN)"), challenge_type: p.str("http-01 or dns-01"), secret_path: p.str("where the certificate secret is written"), renew_before: p.str("e.g. 30d") },
    required: ["account_id", "domains"], pathArgs: ["secret_path"], route: { method: "POST", path: "/v1/pki/acme/orders" },
    // The API's default (src/pki/acme/orders.ts): pki/acme/<first domain>, a wildcard's * as _wildcard.
    impliedPaths: (args) => (typeof args.secret_path === "string" || !Array.isArray(args.domains) ? [] : [`pki/acme/${String(args.domains[0]).replace(/^\*/, "_wildcard")}`]),
  },
  {
    name: "get_acme_order", category: "pki", title: "Get an ACME order", kind: "read", description: "An ACME order's status (pending, processing, valid, invalid), error and certificate.",
    properties: { order_id: p.str("order_…") }, required: ["order_id"], route: { method: "GET", path: "/v1/pki/acme/orders/{order_id}" },
  },
  {
    name: "generate_dynamic_credentials", category: "dynamic", title: "Generate dynamic credentials", kind: "write", mask: "lease",
    description: "Create short-lived credentials from a dynamic-secrets role (a lease revoked at the source when it ends).",
    properties: { engine: p.str("engine name"), role: p.str("role name"), ttl: p.str("e.g. 1h (capped by the role)"), public_key: p.str("SSH engines: the OpenSSH public key to sign"), valid_principals: p.strings("SSH engines: principals") },
    required: ["engine", "role"], route: { method: "POST", path: "/v1/dynamic/engines/{engine}/creds/{role}" },
  },
  { name: "renew_lease", category: "dynamic", title: "Renew a lease", kind: "write", description: "Extend a lease (never past its maximum).", properties: { ...leaseId, increment: p.str("e.g. 1h") }, required: ["lease_id"], route: { method: "POST", path: "/v1/dynamic/leases/{lease_id}/renew" } },
  {
    name: "revoke_lease", category: "dynamic", title: "Revoke a lease", kind: "destructive", description: "Revoke a lease now: its credentials stop working at the source.",
    properties: { ...leaseId, ...confirm }, required: ["lease_id"], effect: (args) => `would revoke lease ${String(args.lease_id)}: its credentials stop working at once`,
    route: { method: "POST", path: "/v1/dynamic/leases/{lease_id}/revoke" },
  },
];
