/**
 * What ACME dns-01 consumes from the DNS providers domain (`/v1/dns/providers`, src/dns/): one
 * interface, defined there. The composition root passes an implementation (the providers' solver,
 * or a test's); without one, dns-01 orders answer 422.
 */
export type { DnsChallengeSolver, TenantRef } from "../../dns/solver.js";
