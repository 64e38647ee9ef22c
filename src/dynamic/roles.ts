import type { Caller } from "../http/context.js";
import { validationError, VaultError } from "../http/errors.js";
import { isUniqueViolation } from "../storage/contract.js";
import { change, type ChangeDeps } from "./change.js";
import { durationOf, requireName, ttlPair } from "./config.js";
import type { EngineService } from "./engines.js";
import type { DynamicStore, EngineRow, RoleRow } from "./store.js";
import { checkTemplates, type Dialect } from "./templating.js";
import { roleView } from "./views.js";

export interface RoleBody {
  name?: string;
  creation_statements?: string[];
  revocation_statements?: string[];
  renew_statements?: string[];
  allowed_users?: string[];
  default_user?: string;
  default_extensions?: Record<string, string>;
  default_ttl?: string;
  max_ttl?: string;
  description?: string;
}

export const DEFAULT_REVOCATION: Record<string, string[]> = {
  postgresql: ['REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM "{{name}}"; DROP ROLE IF EXISTS "{{name}}"'],
  mysql: ["DROP USER IF EXISTS '{{name}}'@'%'"],
};
const DEFAULT_REDIS_RULES = ["~*", "+@read"];
/** Rules that would touch the user's password or switch, which only the vault sets. */
const REDIS_FORBIDDEN = /^(?:[<>#!%].*|nopass|resetpass|reset|on|off)$/i;
const SSH_PRINCIPAL = /^[A-Za-z0-9._@-]{1,64}$/;
const SSH_EXTENSIONS = new Set(["permit-pty", "permit-port-forwarding", "permit-agent-forwarding", "permit-X11-forwarding", "permit-user-rc", "no-touch-required"]);

/** What a role stores in `body`, per plugin; checked here so that a bad recipe fails at creation, not at use. */
export function roleBody(engine: EngineRow, input: RoleBody): Record<string, unknown> {
  if (engine.plugin === "ssh") {
    const allowed = input.allowed_users ?? [];
    if (allowed.length === 0 || !allowed.every((u) => u === "*" || SSH_PRINCIPAL.test(u))) throw validationError({ allowed_users: "must list one or more user names (letters, digits, . _ @ -) or *" });
    const defaultUser = input.default_user ?? (allowed[0] === "*" ? undefined : allowed[0]);
    if (!defaultUser || !SSH_PRINCIPAL.test(defaultUser)) throw validationError({ default_user: "must be a user name" });
    const extensions = input.default_extensions ?? { "permit-pty": "" };
    for (const key of Object.keys(extensions)) if (!SSH_EXTENSIONS.has(key) || typeof extensions[key] !== "string") throw validationError({ default_extensions: `${key} is not a supported extension` });
    return { allowed_users: allowed, default_user: defaultUser, default_extensions: extensions };
  }
  if (engine.plugin === "redis") {
    const rules = input.creation_statements ?? DEFAULT_REDIS_RULES;
    for (const rule of rules) {
      if (typeof rule !== "string" || rule === "" || /\s/.test(rule) || REDIS_FORBIDDEN.test(rule)) throw new VaultError("invalid_config", `ACL rule ${JSON.stringify(String(rule).slice(0, 40))} is not allowed: the vault sets the user's switch and password itself`, { details: { reason: "template" } });
    }
    return { creation_statements: rules, revocation_statements: [], renew_statements: [] };
  }
  const creation = input.creation_statements;
  if (!creation || creation.length === 0) throw validationError({ creation_statements: "is required: one or more SQL statements" });
  const revocation = input.revocation_statements && input.revocation_statements.length > 0 ? input.revocation_statements : DEFAULT_REVOCATION[engine.plugin];
  const renew = input.renew_statements ?? [];
  const dialect = engine.plugin as Dialect;
  checkTemplates(creation, dialect);
  checkTemplates(revocation, dialect);
  checkTemplates(renew, dialect);
  return { creation_statements: creation, revocation_statements: revocation, renew_statements: renew };
}

/** A role's TTLs in seconds: its own, each capped by the engine's max_ttl. */
export function roleTtls(engine: EngineRow, role: RoleRow): { defaultSeconds: number; maxSeconds: number } {
  const engineMax = durationOf("max_ttl", engine.max_ttl);
  const maxSeconds = Math.min(durationOf("max_ttl", role.max_ttl), engineMax);
  return { defaultSeconds: Math.min(durationOf("default_ttl", role.default_ttl), maxSeconds), maxSeconds };
}

/** Roles: recipes for a credential, by name within their engine. */
export class RoleService {
  constructor(private readonly deps: ChangeDeps & { store: DynamicStore; engines: EngineService }) {}

  async require(engine: EngineRow, name: string): Promise<RoleRow> {
    const role = await this.deps.store.role(engine.id, name);
    if (!role) throw new VaultError("role_not_found", `Engine ${engine.name} has no role named ${name}`, { details: { engine: engine.name, role: name } });
    return role;
  }

  async create(caller: Caller, engineName: string, input: RoleBody) {
    const name = requireName("name", input.name ?? "");
    caller.ctx.audit.extra = { engine: engineName, role: name };
    const engine = await this.deps.engines.require(caller, engineName);
    const defaultTtl = input.default_ttl ?? engine.default_ttl;
    const maxTtl = input.max_ttl ?? engine.max_ttl;
    ttlPair(defaultTtl, maxTtl);
    const body = roleBody(engine, input);
    const now = Date.now();
    const row: RoleRow = { engine_id: engine.id, name, tenant_id: engine.tenant_id, body: JSON.stringify(body), default_ttl: defaultTtl, max_ttl: maxTtl, description: input.description ?? null, created_at: now, updated_at: now };
    try {
      return await change(this.deps, caller, 201, async (tx) => {
        if (await this.deps.store.role(engine.id, name, tx)) throw new VaultError("already_exists", `Engine ${engine.name} already has a role named ${name}`, { details: { role: name } });
        await this.deps.store.insertRole(tx, row);
        return roleView(engine, row);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new VaultError("already_exists", `Engine ${engine.name} already has a role named ${name}`, { details: { role: name } });
      throw error;
    }
  }

  async list(caller: Caller, engineName: string) {
    caller.ctx.audit.extra = { engine: engineName };
    const engine = await this.deps.engines.require(caller, engineName);
    return { data: (await this.deps.store.roles(engine.id)).map((r) => roleView(engine, r)), cursor: null, has_more: false };
  }

  async get(caller: Caller, engineName: string, name: string) {
    caller.ctx.audit.extra = { engine: engineName, role: name };
    const engine = await this.deps.engines.require(caller, engineName);
    return roleView(engine, await this.require(engine, name));
  }

  async patch(caller: Caller, engineName: string, name: string, input: RoleBody) {
    caller.ctx.audit.extra = { engine: engineName, role: name };
    const engine = await this.deps.engines.require(caller, engineName);
    const row = await this.require(engine, name);
    const merged = { ...(JSON.parse(row.body) as RoleBody), ...input };
    const next: RoleRow = { ...row, body: JSON.stringify(roleBody(engine, merged)), default_ttl: input.default_ttl ?? row.default_ttl, max_ttl: input.max_ttl ?? row.max_ttl, description: input.description ?? row.description, updated_at: Date.now() };
    ttlPair(next.default_ttl, next.max_ttl);
    return change(this.deps, caller, 200, async (tx) => {
      await this.deps.store.updateRole(tx, next);
      return roleView(engine, next);
    });
  }

  /** Leases of a deleted role keep running: each carries its own revocation statements. */
  async delete(caller: Caller, engineName: string, name: string): Promise<void> {
    caller.ctx.audit.extra = { engine: engineName, role: name };
    const engine = await this.deps.engines.require(caller, engineName);
    await this.require(engine, name);
    await change(this.deps, caller, 204, async (tx) => {
      await this.deps.store.deleteRole(tx, engine.id, name);
    });
  }
}
