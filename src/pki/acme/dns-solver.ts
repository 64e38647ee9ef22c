/**
 * What ACME dns-01 consumes from the DNS providers domain (`/v1/dns/providers`, built apart).
 * The composition root passes an implementation; without one, dns-01 orders answer 422.
 */
export interface TenantRef { partnerId: string; tenantId: string }
export interface DnsChallengeSolver {
  /** The provider covering every domain (longest managed zone), or null; with providerId: that provider or throws 404 dns_provider_not_found. */
  pick(tenant: TenantRef, domains: string[], providerId?: string): Promise<{ id: string } | null>;
  /** Adds TXT at `name` (e.g. _acme-challenge.example.com) = value and waits until the provider's server answers it. */
  present(tenant: TenantRef, providerId: string, name: string, value: string): Promise<void>;
  /** Removes that TXT record (best effort). */
  cleanup(tenant: TenantRef, providerId: string, name: string, value: string): Promise<void>;
}
