import type { Caller } from "../http/context.js";
import { validationError, VaultError } from "../http/errors.js";
import { requireDuration } from "../shared/duration.js";
import { iso } from "../shared/time.js";
import { isUniqueViolation } from "../storage/contract.js";
import type { CaService } from "./ca-service.js";
import type { PkiDeps } from "./common.js";
import { normalizeDnsName } from "./names.js";
import type { RoleRow } from "./store.js";

export interface RoleSettings {
  allowed_domains: string[];
  allow_subdomains: boolean;
  allow_ip_sans: boolean;
  ttl: string | null;
  max_ttl: string;
  key_type: "rsa" | "ec" | "any";
  key_bits: number;
  require_cn: boolean;
  store_private_keys: boolean;
  server_flag: boolean;
  client_flag: boolean;
}

export interface Role extends RoleSettings {
  name: string;
  ca_id: string;
  created_at: number;
  updated_at: number;
}

export type RoleInput = Partial<RoleSettings> & { name?: string; ca_id?: string };

const DEFAULTS: RoleSettings = {
  allowed_domains: [], allow_subdomains: false, allow_ip_sans: false, ttl: null, max_ttl: "720h", key_type: "rsa", key_bits: 2048,
  require_cn: true, store_private_keys: false, server_flag: true, client_flag: true,
};
const KEY_BITS: Record<RoleSettings["key_type"], number[]> = { rsa: [2048, 3072, 4096], ec: [256, 384], any: [256, 384, 2048, 3072, 4096] };

export function roleOf(row: RoleRow): Role {
  return { ...DEFAULTS, ...(JSON.parse(row.settings) as RoleSettings), name: row.name, ca_id: row.ca_id, created_at: row.created_at, updated_at: row.updated_at };
}

export function roleView(role: Role) {
  return { ...role, ttl: role.ttl ?? role.max_ttl, created_at: iso(role.created_at), updated_at: iso(role.updated_at) };
}

/** Seconds a certificate of this role lives: the requested `ttl`, else the role's, capped at `max_ttl` (no error). */
export function ttlSeconds(role: Role, requested: string | undefined): number {
  const max = requireDuration("max_ttl", role.max_ttl);
  const wanted = requested !== undefined ? requireDuration("ttl", requested) : role.ttl ? requireDuration("ttl", role.ttl) : max;
  return Math.min(wanted, max);
}

function settle(input: RoleInput, base: RoleSettings): RoleSettings {
  const keyType = input.key_type ?? base.key_type;
  const keyBitsDefault = input.key_type && input.key_type !== base.key_type ? (keyType === "rsa" ? 2048 : 256) : base.key_bits;
  const s: RoleSettings = {
    allowed_domains: (input.allowed_domains ?? base.allowed_domains).map((d) => normalizeDnsName(d)),
    allow_subdomains: input.allow_subdomains ?? base.allow_subdomains,
    allow_ip_sans: input.allow_ip_sans ?? base.allow_ip_sans,
    ttl: input.ttl !== undefined ? input.ttl : base.ttl,
    max_ttl: input.max_ttl ?? base.max_ttl,
    key_type: keyType,
    key_bits: input.key_bits ?? keyBitsDefault,
    require_cn: input.require_cn ?? base.require_cn,
    store_private_keys: input.store_private_keys ?? base.store_private_keys,
    server_flag: input.server_flag ?? base.server_flag,
    client_flag: input.client_flag ?? base.client_flag,
  };
  const max = requireDuration("max_ttl", s.max_ttl);
  if (s.ttl !== null && requireDuration("ttl", s.ttl) > max) throw validationError({ ttl: "may not exceed max_ttl" });
  if (!KEY_BITS[s.key_type].includes(s.key_bits)) throw validationError({ key_bits: `must be one of ${KEY_BITS[s.key_type].join(", ")} for key_type ${s.key_type}` });
  if (s.allowed_domains.some((d) => d === "" || d.length > 253)) throw validationError({ allowed_domains: "entries must be DNS names or patterns" });
  return s;
}

/** Roles, addressed by name within the tenant (contract P3). */
export class RoleService {
  constructor(private readonly deps: PkiDeps, private readonly cas: CaService) {}

  async require(tenantId: string, name: string): Promise<Role> {
    const row = await this.deps.store.getRole(tenantId, name);
    if (!row) throw new VaultError("role_not_found", "No role with this name in this tenant", { details: { role: name } });
    return roleOf(row);
  }

  async create(caller: Caller, body: RoleInput & { name: string; ca_id: string }) {
    const settings = settle(body, DEFAULTS);
    caller.ctx.audit.extra = { role: body.name, ca_id: body.ca_id };
    await this.cas.require(caller.tenant.tenantId, body.ca_id);
    const now = Date.now();
    const row: RoleRow = { tenant_id: caller.tenant.tenantId, name: body.name, partner_id: caller.tenant.partnerId, ca_id: body.ca_id, settings: JSON.stringify(settings), created_at: now, updated_at: now };
    try {
      await this.deps.secrets.mutate(caller, () => 201, async (tx) => {
        if (await this.deps.store.getRole(caller.tenant.tenantId, body.name, tx)) throw new VaultError("already_exists", `A role named ${body.name} already exists`, { details: { name: body.name } });
        await this.deps.store.insertRole(tx, row);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new VaultError("already_exists", `A role named ${body.name} already exists`, { details: { name: body.name } });
      throw error;
    }
    return roleView(roleOf(row));
  }

  async list(caller: Caller) {
    return { data: (await this.deps.store.listRoles(caller.tenant.tenantId)).map((r) => roleView(roleOf(r))) };
  }

  async get(caller: Caller, name: string) {
    caller.ctx.audit.extra = { role: name };
    return roleView(await this.require(caller.tenant.tenantId, name));
  }

  async patch(caller: Caller, name: string, body: RoleInput) {
    caller.ctx.audit.extra = { role: name };
    const current = await this.require(caller.tenant.tenantId, name);
    const settings = settle(body, current);
    const caId = body.ca_id ?? current.ca_id;
    if (body.ca_id) await this.cas.require(caller.tenant.tenantId, body.ca_id);
    const row: RoleRow = { tenant_id: caller.tenant.tenantId, name, partner_id: caller.tenant.partnerId, ca_id: caId, settings: JSON.stringify(settings), created_at: current.created_at, updated_at: Date.now() };
    await this.deps.secrets.mutate(caller, () => 200, async (tx) => {
      if (!(await this.deps.store.getRole(caller.tenant.tenantId, name, tx))) throw new VaultError("role_not_found", "No role with this name in this tenant", { details: { role: name } });
      await this.deps.store.updateRole(tx, row);
    });
    return roleView(roleOf(row));
  }

  async delete(caller: Caller, name: string): Promise<void> {
    caller.ctx.audit.extra = { role: name };
    await this.deps.secrets.mutate(caller, () => 204, async (tx) => {
      if ((await this.deps.store.deleteRole(tx, caller.tenant.tenantId, name)) === 0) throw new VaultError("role_not_found", "No role with this name in this tenant", { details: { role: name } });
    });
  }
}
