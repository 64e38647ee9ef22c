import type { AuditRecorder } from "../audit/recorder.js";
import type { Keyring } from "../crypto/keyring.js";
import type { Caller } from "../http/context.js";
import { VaultError } from "../http/errors.js";
import type { SecretsService } from "../secrets/service.js";
import { randomBase62 } from "../shared/ids.js";
import { iso } from "../shared/time.js";
import { isUniqueViolation, type Queryable } from "../storage/contract.js";
import { DnsError, parseServer, query } from "./client.js";
import { BUILT_TYPES, dnsZones, normalizeZones, refuseUnbuilt, requireProviderType, settleRfc2136, type Rfc2136Config, type Rfc2136Credentials } from "./providers.js";
import type { DnsStore, ProviderRow } from "./store.js";
import type { TsigKey } from "./tsig.js";
import { TYPE } from "./wire.js";

export interface DnsDeps {
  db: import("../storage/contract.js").Database;
  store: DnsStore;
  keyring: Keyring;
  audit: AuditRecorder;
  secrets: SecretsService;
  config: { timeoutMs: number; propagationTimeoutMs: number };
}

export interface ProviderBody {
  name: string;
  provider_type: string;
  config?: unknown;
  credentials?: unknown;
  managed_zones: unknown;
  verify?: boolean;
}

export interface ProviderPatch {
  name?: string;
  config?: unknown;
  credentials?: unknown;
  managed_zones?: unknown;
  is_active?: boolean;
  verify?: boolean;
}

export interface ZoneCheck {
  zone: string;
  ok: boolean;
  serial?: number;
  error?: string;
}

/**
 * Credentials are sealed like secret versions (a fresh data key wrapped by the tenant's key), bound
 * to an address no secret can have (`#` never occurs in a secret path), so one provider's sealed
 * credentials cannot be passed off as another's or as a secret's.
 */
const credentialsAddress = (tenantId: string, id: string) => ({ tenantId, path: `#dns/provider/${id}`, version: 1 });

export function providerView(row: ProviderRow) {
  return {
    id: row.id,
    name: row.name,
    provider_type: row.provider_type,
    config: JSON.parse(row.config) as Record<string, unknown>,
    managed_zones: JSON.parse(row.managed_zones) as string[],
    is_active: row.is_active === 1,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

export function notFound(id: string): VaultError {
  return new VaultError("dns_provider_not_found", "No DNS provider with this id in this tenant", { details: { provider_id: id } });
}

/** A DNS failure as the contract's 502, with what went wrong and never a secret. */
export function providerError(row: Pick<ProviderRow, "id">, error: unknown, what: string): VaultError {
  if (error instanceof DnsError) return new VaultError("dns_provider_error", `${what}: ${error.message}`, { details: { provider_id: row.id, reason: error.reason, ...error.detail } });
  if (error instanceof VaultError) return error;
  return new VaultError("dns_provider_error", `${what}: ${(error as Error).message ?? String(error)}`, { details: { provider_id: row.id } });
}

/** DNS providers (contract P7): CRUD, verification and the test call; rfc2136 only for now. */
export class DnsProviderService {
  constructor(private readonly deps: DnsDeps) {}

  async require(tenantId: string, id: string, q?: Queryable): Promise<ProviderRow> {
    const row = await this.deps.store.get(tenantId, id, q);
    if (!row) throw notFound(id);
    return row;
  }

  async openCredentials(row: ProviderRow): Promise<Rfc2136Credentials> {
    const plain = await this.deps.keyring.decryptSecret(credentialsAddress(row.tenant_id, row.id), {
      ciphertext: Buffer.from(row.credentials_ciphertext), wrappedDataKey: Buffer.from(row.credentials_wrapped), tenantKeyId: row.credentials_key_id,
    });
    try {
      return JSON.parse(plain.toString("utf8")) as Rfc2136Credentials;
    } finally {
      plain.fill(0);
    }
  }

  private async seal(tx: Queryable, tenantId: string, partnerId: string, id: string, credentials: Rfc2136Credentials) {
    await this.deps.keyring.ensureTenantKey(tenantId, partnerId, tx);
    const plain = Buffer.from(JSON.stringify(credentials), "utf8");
    try {
      const sealed = await this.deps.keyring.encryptSecret(credentialsAddress(tenantId, id), plain, tx);
      return { credentials_ciphertext: sealed.ciphertext, credentials_wrapped: sealed.wrappedDataKey, credentials_key_id: sealed.tenantKeyId };
    } finally {
      plain.fill(0);
    }
  }

  /** The TSIG key of an rfc2136 provider, or null when it is not keyed. */
  tsigKey(config: Rfc2136Config, credentials: Rfc2136Credentials): TsigKey | null {
    if (!config.tsig_key_name || !credentials.tsig_secret) return null;
    return { name: config.tsig_key_name, algorithm: config.tsig_algorithm, secret: Buffer.from(credentials.tsig_secret, "base64") };
  }

  /** Asks the server for each zone's SOA, TSIG-signed when keyed (so a wrong key shows here too). */
  async checkZones(config: Rfc2136Config, credentials: Rfc2136Credentials, entries: string[]): Promise<ZoneCheck[]> {
    const server = parseServer(config.server);
    const key = this.tsigKey(config, credentials);
    const checks: ZoneCheck[] = [];
    for (const zone of dnsZones(entries)) {
      try {
        const answer = await query(server, zone, TYPE.SOA, { key, timeoutMs: this.deps.config.timeoutMs });
        const soa = answer.records.find((r) => r.soa);
        checks.push(soa ? { zone, ok: true, serial: soa.soa!.serial } : { zone, ok: false, error: "the server has no SOA for this zone" });
      } catch (error) {
        checks.push({ zone, ok: false, error: error instanceof DnsError ? error.message : String((error as Error).message ?? error) });
      }
    }
    return checks;
  }

  private async verifyOrThrow(config: Rfc2136Config, credentials: Rfc2136Credentials, entries: string[]): Promise<void> {
    const checks = await this.checkZones(config, credentials, entries);
    const failed = checks.filter((c) => !c.ok);
    if (failed.length) throw new VaultError("invalid_config", `The DNS server does not answer for every managed zone: ${failed.map((f) => `${f.zone} (${f.error})`).join("; ")}`, { details: { zones: checks } });
  }

  async create(caller: Caller, body: ProviderBody) {
    requireProviderType(body.provider_type);
    if (!(BUILT_TYPES as readonly string[]).includes(body.provider_type)) refuseUnbuilt(body.provider_type, body.config, body.credentials);
    const zones = normalizeZones(body.managed_zones);
    const settled = settleRfc2136(body.config, body.credentials);
    if (body.verify) await this.verifyOrThrow(settled.config, settled.credentials, zones);
    const id = `dnsp_${randomBase62(20)}`;
    const { tenantId, partnerId } = caller.tenant;
    caller.ctx.audit.extra = { provider_id: id, name: body.name, provider_type: body.provider_type };
    const now = Date.now();
    const exists = () => new VaultError("already_exists", `A DNS provider named ${body.name} already exists`, { details: { name: body.name } });
    try {
      return await this.deps.secrets.mutate(caller, () => 201, async (tx) => {
        if (await this.deps.store.byName(tenantId, body.name, tx)) throw exists();
        const row: ProviderRow = {
          id, tenant_id: tenantId, partner_id: partnerId, name: body.name, provider_type: body.provider_type, config: JSON.stringify(settled.config), managed_zones: JSON.stringify(zones),
          ...(await this.seal(tx, tenantId, partnerId, id, settled.credentials)), is_active: 1, created_by: caller.principal.identityId, created_at: now, updated_at: now,
        };
        await this.deps.store.insert(tx, row);
        return providerView(row);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw exists();
      throw error;
    }
  }

  async list(caller: Caller) {
    return { data: (await this.deps.store.list(caller.tenant.tenantId)).map(providerView) };
  }

  async get(caller: Caller, id: string) {
    caller.ctx.audit.extra = { provider_id: id };
    return providerView(await this.require(caller.tenant.tenantId, id));
  }

  async patch(caller: Caller, id: string, body: ProviderPatch) {
    caller.ctx.audit.extra = { provider_id: id };
    const { tenantId, partnerId } = caller.tenant;
    const current = await this.require(tenantId, id);
    const zones = body.managed_zones === undefined ? (JSON.parse(current.managed_zones) as string[]) : normalizeZones(body.managed_zones);
    // Credentials are replaced as a whole when given; the current ones are opened only to re-check the pairing with the key name.
    const currentCredentials = await this.openCredentials(current);
    const settled = settleRfc2136(body.config, body.credentials, { config: JSON.parse(current.config) as Rfc2136Config, credentials: currentCredentials });
    if (body.verify) await this.verifyOrThrow(settled.config, settled.credentials, zones);
    const exists = () => new VaultError("already_exists", `A DNS provider named ${body.name} already exists`, { details: { name: body.name } });
    try {
      return await this.deps.secrets.mutate(caller, () => 200, async (tx) => {
        const locked = await this.require(tenantId, id, tx);
        if (body.name !== undefined && body.name !== locked.name && (await this.deps.store.byName(tenantId, body.name, tx))) throw exists();
        const sealed = body.credentials === undefined ? {} : await this.seal(tx, tenantId, partnerId, id, settled.credentials);
        const row: ProviderRow = {
          ...locked, ...sealed, name: body.name ?? locked.name, config: JSON.stringify(settled.config), managed_zones: JSON.stringify(zones),
          is_active: body.is_active === undefined ? locked.is_active : body.is_active ? 1 : 0, updated_at: Date.now(),
        };
        await this.deps.store.update(tx, row);
        return providerView(row);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw exists();
      throw error;
    }
  }

  async delete(caller: Caller, id: string): Promise<void> {
    caller.ctx.audit.extra = { provider_id: id };
    await this.deps.secrets.mutate(caller, () => 204, async (tx) => {
      if ((await this.deps.store.delete(tx, caller.tenant.tenantId, id)) === 0) throw notFound(id);
    });
  }

  /** The test call: each zone's SOA from the server, TSIG-signed when keyed; `ok` only if every zone answered. */
  async test(caller: Caller, id: string) {
    caller.ctx.audit.extra = { provider_id: id };
    const row = await this.require(caller.tenant.tenantId, id);
    const zones = await this.checkZones(JSON.parse(row.config) as Rfc2136Config, await this.openCredentials(row), JSON.parse(row.managed_zones) as string[]);
    const ok = zones.every((z) => z.ok);
    caller.ctx.audit.extra = { provider_id: id, ok };
    return { ok, zones };
  }
}
