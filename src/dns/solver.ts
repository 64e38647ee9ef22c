import type { FastifyBaseLogger } from "fastify";
import { VaultError } from "../http/errors.js";
import { DnsError, parseServer, query, updateTxt } from "./client.js";
import { longestCovering, zoneForRecord, type Rfc2136Config } from "./providers.js";
import { notFound, providerError, type DnsProviderService } from "./service.js";
import type { DnsStore, ProviderRow } from "./store.js";
import { TYPE } from "./wire.js";

export interface TenantRef { partnerId: string; tenantId: string }
export interface DnsChallengeSolver {
  /** The provider covering every domain (longest managed zone), or null; with providerId: that provider or throws 404 dns_provider_not_found. */
  pick(tenant: TenantRef, domains: string[], providerId?: string): Promise<{ id: string } | null>;
  /** Adds TXT at `name` (e.g. _acme-challenge.example.com) = value and waits until the provider's server answers it (propagation_timeout 120 s default, configurable for tests). */
  present(tenant: TenantRef, providerId: string, name: string, value: string): Promise<void>;
  /** Removes that TXT record (best effort). */
  cleanup(tenant: TenantRef, providerId: string, name: string, value: string): Promise<void>;
}

export interface SolverOptions {
  /** Each DNS request's timeout per transport (SCAIVAULT_DNS_TIMEOUT). */
  timeoutMs: number;
  /** How long `present` waits for the record to be answered (SCAIVAULT_DNS_PROPAGATION_TIMEOUT). */
  propagationTimeoutMs: number;
  /** Between propagation checks. */
  pollMs?: number;
  log?: FastifyBaseLogger;
}

/**
 * dns-01 through the tenant's DNS providers (contract P7): an RFC 2136 UPDATE in the longest managed
 * zone holding the record, TSIG-signed when keyed, then the provider's server is asked until it
 * answers the value. Failures are `502 dns_provider_error` with the reason; no secret in any of it.
 */
export class Rfc2136Solver implements DnsChallengeSolver {
  constructor(private readonly store: DnsStore, private readonly providers: DnsProviderService, private readonly options: SolverOptions) {}

  private async provider(tenant: TenantRef, providerId: string): Promise<ProviderRow> {
    const row = await this.store.get(tenant.tenantId, providerId);
    if (!row) throw notFound(providerId);
    return row;
  }

  async pick(tenant: TenantRef, domains: string[], providerId?: string): Promise<{ id: string } | null> {
    if (providerId !== undefined) return { id: (await this.provider(tenant, providerId)).id };
    if (domains.length === 0) return null;
    let best: { id: string; score: number } | null = null;
    for (const row of await this.store.list(tenant.tenantId)) {
      if (row.is_active !== 1 || row.provider_type !== "rfc2136") continue;
      const entries = JSON.parse(row.managed_zones) as string[];
      const zones = domains.map((d) => longestCovering(entries, d));
      if (zones.some((z) => z === null)) continue;
      // The provider whose covering zones are the most specific wins; ties go to the oldest (list order).
      const score = Math.min(...zones.map((z) => z!.length));
      if (!best || score > best.score) best = { id: row.id, score };
    }
    return best ? { id: best.id } : null;
  }

  private async target(tenant: TenantRef, providerId: string, name: string, activeOnly: boolean) {
    const row = await this.provider(tenant, providerId);
    // An inactive provider takes no new records; cleanup still removes what it holds.
    if (activeOnly && row.is_active !== 1) throw new VaultError("validation_error", `The DNS provider ${row.name} is inactive`, { details: { fields: { dns_provider_id: "names an inactive provider" }, provider_id: row.id } });
    if (row.provider_type !== "rfc2136") throw new VaultError("validation_error", `The ${row.provider_type} DNS provider type is not available yet`, { details: { fields: { dns_provider_id: `names a ${row.provider_type} provider, which is not available yet` }, provider_id: row.id } });
    const config = JSON.parse(row.config) as Rfc2136Config;
    const zone = zoneForRecord(JSON.parse(row.managed_zones) as string[], name);
    if (!zone) throw new VaultError("name_not_allowed", `${name} is in none of the provider's managed zones`, { details: { name, provider_id: row.id } });
    const key = this.providers.tsigKey(config, await this.providers.openCredentials(row));
    return { row, config, zone, key, server: parseServer(config.server) };
  }

  async present(tenant: TenantRef, providerId: string, name: string, value: string): Promise<void> {
    const t = await this.target(tenant, providerId, name, true);
    const timeoutMs = this.options.timeoutMs;
    try {
      await updateTxt(t.server, t.zone, { add: [{ name, value }], ttl: t.config.ttl }, { key: t.key, timeoutMs });
    } catch (error) {
      throw providerError(t.row, error, `Adding the TXT record ${name} failed`);
    }
    // Propagation: the provider's server must answer the value. Bounded by propagationTimeoutMs, each query by timeoutMs.
    const deadline = Date.now() + this.options.propagationTimeoutMs;
    let last: unknown = null;
    for (;;) {
      try {
        const answer = await query(t.server, name, TYPE.TXT, { key: t.key, timeoutMs: Math.max(1, Math.min(timeoutMs, deadline - Date.now())) });
        if (answer.records.some((r) => (r.txt ?? []).join("") === value)) return;
        last = null;
      } catch (error) {
        last = error;
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise((resolve) => setTimeout(resolve, Math.min(this.options.pollMs ?? 1000, left)));
    }
    const why = last instanceof DnsError ? ` (last query: ${last.message})` : "";
    throw new VaultError("dns_provider_error", `The TXT record ${name} was not answered by ${t.config.server} within ${Math.round(this.options.propagationTimeoutMs / 1000)} s${why}`, {
      details: { provider_id: t.row.id, reason: "propagation_timeout", name, propagation_timeout_ms: this.options.propagationTimeoutMs },
    });
  }

  async cleanup(tenant: TenantRef, providerId: string, name: string, value: string): Promise<void> {
    try {
      const t = await this.target(tenant, providerId, name, false);
      await updateTxt(t.server, t.zone, { remove: [{ name, value }], ttl: 0 }, { key: t.key, timeoutMs: this.options.timeoutMs });
    } catch (error) {
      // Best effort: a record left behind is harmless once the order is done; say so, without secrets.
      this.options.log?.warn({ provider_id: providerId, name, reason: error instanceof DnsError ? error.reason : (error as Error).name }, `dns-01 cleanup of ${name} failed: ${(error as Error).message}`);
    }
  }
}
