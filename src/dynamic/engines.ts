import type { PolicyStore } from "../access/policy-store.js";
import type { Keyring } from "../crypto/keyring.js";
import type { Caller } from "../http/context.js";
import { VaultError } from "../http/errors.js";
import { randomBase62 } from "../shared/ids.js";
import { isUniqueViolation } from "../storage/contract.js";
import { change, type ChangeDeps } from "./change.js";
import { databaseConfig, durationOf, requireName, splitType, sshConfig, ttlPair, type DatabaseConfig, type SshConfig } from "./config.js";
import type { Connector } from "./connector.js";
import type { LeaseService } from "./leases.js";
import { engineIdentity, type RootCredentialReader } from "./root-credentials.js";
import { generateCa, sealCa } from "./ssh/ca.js";
import type { DynamicStore, EngineRow } from "./store.js";
import { engineView } from "./views.js";

export interface EngineCreateBody {
  name: string;
  type: string;
  config: Record<string, unknown>;
  default_ttl?: string;
  max_ttl?: string;
  description?: string;
}
export type EnginePatchBody = Partial<Pick<EngineCreateBody, "config" | "default_ttl" | "max_ttl" | "description">>;

export interface EngineDeps extends ChangeDeps {
  store: DynamicStore;
  roots: RootCredentialReader;
  connector: Connector;
  keyring: Keyring;
  policies: PolicyStore;
}

export const configOf = (row: EngineRow) => JSON.parse(row.config) as DatabaseConfig & SshConfig;

function nextRotation(config: DatabaseConfig, from: number): number | null {
  return config.root_rotation_interval ? from + durationOf("config.root_rotation_interval", config.root_rotation_interval) * 1000 : null;
}

/** Engines: a target and the root credentials to reach it (or an SSH CA), per tenant, by name. */
export class EngineService {
  leases!: LeaseService;

  constructor(private readonly deps: EngineDeps) {}

  async require(caller: Caller, name: string): Promise<EngineRow> {
    const row = await this.deps.store.engineByName(caller.tenant.tenantId, name);
    if (!row) throw new VaultError("engine_not_found", `No engine named ${name}`, { details: { engine: name } });
    return row;
  }

  private async view(row: EngineRow) {
    return engineView(row, await this.deps.store.countActive(row.id));
  }

  /** Reads the root credentials as the engine and opens a test connection: 400 invalid_config if either fails. */
  private async check(row: EngineRow, config: DatabaseConfig): Promise<void> {
    try {
      await this.deps.connector.with(row, config, "configure", ({ plugin, target }) => plugin.test(target));
    } catch (error) {
      if (error instanceof VaultError && error.code === "backend_error") {
        throw new VaultError("invalid_config", `The engine could not connect to its target: ${error.message}`, { details: { reason: "connection_failed", cause: error.details.reason } });
      }
      throw error;
    }
  }

  async create(caller: Caller, body: EngineCreateBody) {
    const name = requireName("name", body.name);
    const { type, plugin } = splitType(body.type, body.config ?? {});
    const defaultTtl = body.default_ttl ?? "1h";
    const maxTtl = body.max_ttl ?? "24h";
    ttlPair(defaultTtl, maxTtl);
    caller.ctx.audit.extra = { engine: name };
    const config = type === "ssh" ? sshConfig(body.config ?? {}) : databaseConfig(plugin, body.config ?? {});
    const now = Date.now();
    const row: EngineRow = {
      id: `eng_${randomBase62(20)}`, tenant_id: caller.tenant.tenantId, partner_id: caller.tenant.partnerId, name, engine_type: type, plugin,
      config: JSON.stringify(config), default_ttl: defaultTtl, max_ttl: maxTtl, description: body.description ?? null, status: "healthy",
      ca_public_key: null, ca_key_sealed: null, ca_key_wrapped: null, ca_key_id: null,
      next_root_rotation_at: null, last_root_rotation_at: null, created_at: now, updated_at: now,
    };
    if (await this.deps.store.engineByName(row.tenant_id, name)) throw new VaultError("already_exists", `An engine named ${name} exists`, { details: { engine: name } });
    let ca: Awaited<ReturnType<typeof generateCa>> | null = null;
    if (type === "database") {
      const db = config as DatabaseConfig;
      await this.deps.roots.requireCallerRead(caller, db.root_credentials_path);
      await this.check(row, db);
      row.next_root_rotation_at = nextRotation(db, now);
    } else {
      ca = generateCa((config as SshConfig).key_type);
      row.ca_public_key = ca.publicKey;
    }
    try {
      await change(this.deps, caller, 201, async (tx) => {
        if (ca) Object.assign(row, await sealCa(this.deps.keyring, row, ca.privateKeyDer, tx));
        await this.deps.store.insertEngine(tx, row);
      });
    } catch (error) {
      EngineService.conflict(error, name);
    } finally {
      ca?.privateKeyDer.fill(0);
    }
    return this.view(row);
  }

  async list(caller: Caller) {
    const rows = await this.deps.store.engines(caller.tenant.tenantId);
    return { data: await Promise.all(rows.map((r) => this.view(r))), cursor: null, has_more: false };
  }

  async get(caller: Caller, name: string) {
    caller.ctx.audit.extra = { engine: name };
    return this.view(await this.require(caller, name));
  }

  async patch(caller: Caller, name: string, body: EnginePatchBody) {
    caller.ctx.audit.extra = { engine: name };
    const row = await this.require(caller, name);
    const old = configOf(row);
    const next: EngineRow = { ...row, updated_at: Date.now() };
    if (body.description !== undefined) next.description = body.description;
    if (body.default_ttl !== undefined) next.default_ttl = body.default_ttl;
    if (body.max_ttl !== undefined) next.max_ttl = body.max_ttl;
    ttlPair(next.default_ttl, next.max_ttl);
    if (body.config) {
      const merged = { ...old, ...body.config };
      const config = row.engine_type === "ssh" ? sshConfig(merged) : databaseConfig(row.plugin, merged);
      if (row.engine_type === "ssh" && (config as SshConfig).key_type !== old.key_type) throw new VaultError("validation_error", "An SSH engine's key_type cannot change", { details: { fields: { "config.key_type": "is fixed at creation" } } });
      next.config = JSON.stringify(config);
      if (row.engine_type === "database") {
        const db = config as DatabaseConfig;
        // Redirecting the connection or the root secret needs the caller's own read on that secret.
        if (db.connection_url !== old.connection_url || db.root_credentials_path !== old.root_credentials_path) await this.deps.roots.requireCallerRead(caller, db.root_credentials_path);
        if (db.root_rotation_interval !== old.root_rotation_interval) next.next_root_rotation_at = nextRotation(db, Date.now());
      }
    }
    if (row.engine_type === "database") await this.check(next, configOf(next));
    await change(this.deps, caller, 200, async (tx) => {
      await this.deps.store.updateEngine(tx, next);
    });
    return this.view(next);
  }

  async delete(caller: Caller, name: string, force: boolean): Promise<void> {
    caller.ctx.audit.extra = { engine: name, force };
    const row = await this.require(caller, name);
    const live = await this.deps.store.liveLeaseIds(row.id, null);
    if (live.length > 0 && !force) throw new VaultError("engine_in_use", `The engine has ${live.length} lease(s) still live; revoke them or delete with ?force=true`, { details: { leases: live.length } });
    for (const id of live) await this.leases.revokeAtSource(id, "engine_deleted", caller);
    await change(this.deps, caller, 204, async (tx) => {
      await this.deps.store.deleteEngine(tx, row.id);
      // Bindings naming the engine's identity go with it, so a new engine of that name starts with none.
      // Along (partner_id, identity_id): by tenant and identity alone, every binding of every tenant was read.
      const removed = await tx.run("DELETE FROM policy_bindings WHERE partner_id = ? AND identity_id = ? AND tenant_id = ?", [row.partner_id, engineIdentity(row.name), row.tenant_id]);
      if (removed.changes > 0) await this.deps.policies.bumpPolicies(tx, { partnerId: row.partner_id, tenantId: row.tenant_id });
    });
  }

  async health(caller: Caller, name: string) {
    caller.ctx.audit.extra = { engine: name };
    const row = await this.require(caller, name);
    const checkedAt = new Date().toISOString();
    if (row.engine_type === "ssh") return { status: "healthy", latency_ms: 0, checked_at: checkedAt, error: null };
    const started = process.hrtime.bigint();
    try {
      await this.deps.connector.with(row, configOf(row), "use", ({ plugin, target }) => plugin.test(target));
      return { status: "healthy", latency_ms: Math.round(Number(process.hrtime.bigint() - started) / 1e6), checked_at: checkedAt, error: null };
    } catch (error) {
      if (!(error instanceof VaultError) || error.code !== "backend_error") throw error;
      return { status: "unhealthy", latency_ms: Math.round(Number(process.hrtime.bigint() - started) / 1e6), checked_at: checkedAt, error: { code: error.code, reason: error.details.reason, message: error.message } };
    }
  }

  /** Insert races between nodes surface as 409 too. */
  static conflict(error: unknown, name: string): never {
    if (isUniqueViolation(error)) throw new VaultError("already_exists", `An engine named ${name} exists`, { details: { engine: name } });
    throw error;
  }
}

export { engineIdentity };
