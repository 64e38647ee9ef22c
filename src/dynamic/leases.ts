import type { Authorizer } from "../access/authorizer.js";
import { denial } from "../access/authorizer.js";
import type { Keyring } from "../crypto/keyring.js";
import { freshRandomBytes } from "../crypto/random.js";
import type { Caller } from "../http/context.js";
import { abandonmentOf } from "../http/abandonment.js";
import { quotaExceeded, VaultError } from "../http/errors.js";
import { decodeCursor, encodeCursor } from "../shared/cursor.js";
import { randomBase62 } from "../shared/ids.js";
import { iso } from "../shared/time.js";
import { change, eventBase, type ChangeDeps } from "./change.js";
import { durationOf, requireName } from "./config.js";
import type { Connector } from "./connector.js";
import { newPassword, newUsername } from "./credentials.js";
import { configOf, type EngineService } from "./engines.js";
import type { DynamicMetrics } from "./metrics.js";
import type { LeaseRevoker } from "./revoker.js";
import { roleTtls, type RoleService } from "./roles.js";
import { openCa } from "./ssh/ca.js";
import { parsePublicKey, signUserCertificate } from "./ssh/cert.js";
import type { DynamicStore, EngineRow, LeaseFilter, LeaseRow, LeaseState, RevokeReason, RoleRow } from "./store.js";
import { expirationText, renderAll, type Dialect } from "./templating.js";
import { leaseEventData, leaseView } from "./views.js";

export interface CredsBody {
  ttl?: string;
  public_key?: string;
  valid_principals?: string[];
}

export interface LeaseListQuery {
  engine?: string;
  role?: string;
  state?: LeaseState;
  identity_id?: string;
  limit?: number;
  cursor?: string;
}

export interface LeaseDeps extends ChangeDeps {
  store: DynamicStore;
  engines: EngineService;
  roles: RoleService;
  connector: Connector;
  authorizer: Authorizer;
  keyring: Keyring;
  metrics: DynamicMetrics;
  revoker: LeaseRevoker;
  maxLeasesPerIdentity: number;
}

/** `dynamic:manage` (or admin) sees every lease of the tenant; `dynamic:read` only its own. */
export function managesLeases(caller: Caller): boolean {
  return caller.principal.scopes.has("admin") || caller.principal.scopes.has("dynamic:manage");
}

/** The reserved policy path of a role (contract D1). */
export const rolePolicyPath = (engine: string, role: string) => `sys/dynamic/${engine}/${role}`;

/** Leases: generated credentials with a TTL, revoked at the source when they end. */
export class LeaseService {
  constructor(private readonly deps: LeaseDeps) {}

  async creds(caller: Caller, engineName: string, roleName: string, body: CredsBody) {
    requireName("engine", engineName);
    requireName("role", roleName);
    caller.ctx.audit.extra = { engine: engineName, role: roleName };
    // Policy before existence: a caller learns nothing about engines and roles it may not use.
    const decision = await this.deps.authorizer.decide(caller, rolePolicyPath(engineName, roleName), "read");
    if (!decision.allowed) throw denial(decision, "read");
    const engine = await this.deps.engines.require(caller, engineName);
    const role = await this.deps.roles.require(engine, roleName);
    await this.requireRoomForLease(caller);
    const ttls = roleTtls(engine, role);
    const ttl = body.ttl === undefined ? ttls.defaultSeconds : Math.min(durationOf("ttl", body.ttl), ttls.maxSeconds);
    const now = Date.now();
    const base = { id: `lease_${randomBase62(20)}`, created_at: now, expires_at: now + ttl * 1000, max_expires_at: now + ttls.maxSeconds * 1000 };
    const made = engine.engine_type === "ssh" ? await this.sshCreds(engine, role, body, base) : await this.databaseCreds(engine, role, base, abandonmentOf(caller));
    const row: LeaseRow = {
      ...base, tenant_id: engine.tenant_id, partner_id: engine.partner_id, engine_id: engine.id, engine_name: engine.name, role_name: role.name,
      identity_id: caller.principal.identityId, username: made.username, revocation: JSON.stringify(made.revocation), renew: JSON.stringify(made.renew),
      serial: made.serial, state: "active", last_renewed_at: null, revoked_at: null, revoke_reason: null, revoke_attempts: 0, last_error: null,
      next_retry_at: null, claimed_until: null, claimed_by: null,
    };
    caller.ctx.audit.extra = { engine: engine.name, role: role.name, lease_id: row.id, username: row.username };
    try {
      await change(this.deps, caller, 201, async (tx, emit) => {
        await this.deps.store.insertLease(tx, row);
        await emit({ ...eventBase(caller), event_type: "lease.created", data: leaseEventData(row, null) });
      });
    } catch (error) {
      // Made at the source but not recorded: undo it rather than leave a user nobody will revoke.
      if (engine.engine_type === "database") await this.undo(engine, made.username, made.revocation);
      throw error;
    }
    this.deps.metrics.leaseGenerated(engine.name, role.name);
    this.deps.revoker.scheduled(row.expires_at);
    return { ...leaseView(row, now), lease_duration: ttl, data: made.data };
  }

  /**
   * Each lease is a user at a target, made before the lease is recorded: a `dynamic:read` caller at
   * its 100 generations a minute with a day-long `max_ttl` kept ~144,000 users alive in someone's
   * database. Counted before the source is asked, so requests in flight at once may pass the last
   * place together (a soft cap, by at most those): exactness would mean holding a lock across the
   * source's round trips.
   */
  private async requireRoomForLease(caller: Caller): Promise<void> {
    const limit = this.deps.maxLeasesPerIdentity;
    if ((await this.deps.store.activeOf(caller.tenant.tenantId, caller.principal.identityId)) < limit) return;
    throw quotaExceeded("leases", "identity", limit, "revoke one or let one expire first", "active leases");
  }

  private async databaseCreds(engine: EngineRow, role: RoleRow, base: { expires_at: number }, signal: AbortSignal | undefined) {
    const config = configOf(engine);
    const recipe = JSON.parse(role.body) as { creation_statements: string[]; revocation_statements: string[]; renew_statements: string[] };
    const username = newUsername(role.name);
    const password = newPassword();
    const values = { name: username, password, expiration: expirationText(base.expires_at) };
    const sql = config.plugin !== "redis";
    const statements = sql ? renderAll(recipe.creation_statements, values, config.plugin as Dialect) : [];
    try {
      await this.deps.connector.with(engine, config, "use", ({ plugin, target }) => plugin.create(target, { username, password, statements, rules: sql ? [] : recipe.creation_statements }), signal);
    } catch (error) {
      // A half-made user (some statements ran) is removed best-effort; the caller gets the 502 and no
      // lease. When no statement ran (no connection, or no place at the gate) there is nothing to undo,
      // and trying would wait for the hung target a second time.
      if (error instanceof VaultError && error.code === "backend_error" && error.details.statement !== null) await this.undo(engine, username, recipe.revocation_statements);
      throw error;
    }
    return { username, serial: null, revocation: recipe.revocation_statements, renew: recipe.renew_statements, data: { username, password } as Record<string, unknown> };
  }

  private async undo(engine: EngineRow, username: string, revocation: string[]): Promise<void> {
    const config = configOf(engine);
    try {
      const statements = config.plugin === "redis" ? [] : renderAll(revocation, { name: username }, config.plugin as Dialect);
      await this.deps.connector.with(engine, config, "use", ({ plugin, target }) => plugin.revoke(target, { username, statements }));
    } catch {
      // best-effort: the creation already failed and that is what the caller hears
    }
  }

  private async sshCreds(engine: EngineRow, role: RoleRow, body: CredsBody, base: { id: string; created_at: number; expires_at: number }) {
    const recipe = JSON.parse(role.body) as { allowed_users: string[]; default_user: string; default_extensions: Record<string, string> };
    if (typeof body.public_key !== "string") throw new VaultError("validation_error", "public_key is required", { details: { fields: { public_key: "is required: an OpenSSH public key" } } });
    const publicKey = parsePublicKey(body.public_key);
    const principals = body.valid_principals && body.valid_principals.length > 0 ? [...new Set(body.valid_principals)] : [recipe.default_user];
    const refused = principals.filter((p) => !recipe.allowed_users.includes("*") && !recipe.allowed_users.includes(p));
    if (refused.length > 0 || principals.some((p) => !/^[A-Za-z0-9._@-]{1,64}$/.test(p))) {
      throw new VaultError("name_not_allowed", `The role does not allow ${refused.join(", ") || "these principals"}`, { details: { principals: refused } });
    }
    const serial = (BigInt(`0x${freshRandomBytes(8).toString("hex")}`) & 0x7fffffffffffffffn) || 1n;
    // Valid from a minute before now, so a client clock slightly behind accepts it.
    const validAfter = base.created_at - 60_000;
    const ca = await openCa(this.deps.keyring, engine);
    const signed = signUserCertificate(ca, { publicKey, serial, keyId: base.id, principals, validAfter, validBefore: base.expires_at, extensions: recipe.default_extensions });
    return {
      username: principals.join(","), serial: serial.toString(), revocation: [], renew: [],
      data: { signed_key: signed, serial_number: serial.toString(), key_id: base.id, valid_principals: principals, valid_after: iso(validAfter), valid_before: iso(base.expires_at) } as Record<string, unknown>,
    };
  }

  /** The lease if the caller may see it; another identity's lease is a 404 to `dynamic:read` callers. */
  async requireVisible(caller: Caller, id: string): Promise<LeaseRow> {
    const row = await this.deps.store.lease(id);
    if (!row || row.tenant_id !== caller.tenant.tenantId || (!managesLeases(caller) && row.identity_id !== caller.principal.identityId)) {
      throw new VaultError("lease_not_found", `No lease ${id}`, { details: { lease_id: id } });
    }
    return row;
  }

  async get(caller: Caller, id: string) {
    caller.ctx.audit.extra = { lease_id: id };
    const row = await this.requireVisible(caller, id);
    caller.ctx.audit.extra = { engine: row.engine_name, role: row.role_name, lease_id: id, username: row.username };
    return leaseView(row);
  }

  async list(caller: Caller, query: LeaseListQuery) {
    const limit = query.limit ?? 100;
    const after = decodeCursor<{ c: number; i: string }>(query.cursor, { c: "number", i: "string" });
    const filter: LeaseFilter = { engine: query.engine, role: query.role, state: query.state, identityId: query.identity_id };
    if (!managesLeases(caller)) filter.identityId = caller.principal.identityId;
    const page = await this.deps.store.leases(caller.tenant.tenantId, filter, after, limit);
    return { data: page.rows.map((r) => leaseView(r)), cursor: page.next === null ? null : encodeCursor(page.next), has_more: page.next !== null };
  }

  async renew(caller: Caller, id: string, increment: string | undefined) {
    caller.ctx.audit.extra = { lease_id: id };
    const row = await this.requireVisible(caller, id);
    caller.ctx.audit.extra = { engine: row.engine_name, role: row.role_name, lease_id: id, username: row.username };
    const extra = increment === undefined ? null : durationOf("increment", increment);
    const now = Date.now();
    ended(row, now);
    const engine = await this.deps.store.engineById(row.engine_id);
    if (!engine) throw ended({ ...row, state: "revoked" }, now);
    const role = await this.deps.store.role(engine.id, row.role_name);
    const seconds = extra ?? (role ? roleTtls(engine, role).defaultSeconds : durationOf("default_ttl", engine.default_ttl));
    const expiresAt = Math.min(now + seconds * 1000, row.max_expires_at);
    const renewStatements = JSON.parse(row.renew) as string[];
    if (engine.engine_type === "database" && renewStatements.length > 0) {
      const config = configOf(engine);
      const statements = renderAll(renewStatements, { name: row.username, expiration: expirationText(expiresAt) }, config.plugin as Dialect);
      await this.deps.connector.with(engine, config, "use", ({ plugin, target }) => plugin.renew(target, statements));
    }
    const renewed = await change(this.deps, caller, 200, async (tx, emit) => {
      const current = await this.deps.store.lease(id, tx);
      if (!current) throw new VaultError("lease_not_found", `No lease ${id}`);
      // The expiry worker may have claimed it meanwhile: an ended lease is not brought back.
      if (current.claimed_until !== null && current.claimed_until >= Date.now()) throw new VaultError("lease_expired", "The lease is being revoked", { details: { lease_id: id } });
      ended(current, Date.now());
      const next: LeaseRow = { ...current, expires_at: expiresAt, last_renewed_at: now };
      if (!(await this.deps.store.extendLease(tx, id, expiresAt, now, Date.now()))) {
        // Claimed or ended between the read above and the update: the same answers as when seen first.
        const latest = await this.deps.store.lease(id, tx);
        if (latest && latest.state === "active" && latest.expires_at > Date.now()) throw new VaultError("lease_expired", "The lease is being revoked", { details: { lease_id: id } });
        throw ended(latest ?? { ...current, state: "revoked" }, Date.now());
      }
      await emit({ ...eventBase(caller), event_type: "lease.renewed", data: leaseEventData(next, null) });
      return next;
    });
    this.deps.revoker.scheduled(renewed.expires_at);
    return leaseView(renewed);
  }

  /** Revokes at the source before answering; an ended lease answers unchanged. */
  async revoke(caller: Caller, id: string) {
    caller.ctx.audit.extra = { lease_id: id };
    const row = await this.requireVisible(caller, id);
    caller.ctx.audit.extra = { engine: row.engine_name, role: row.role_name, lease_id: id, username: row.username };
    if (row.state === "revoked" || row.state === "expired") return leaseView(row);
    const outcome = await this.revokeAtSource(id, "revoked", caller);
    if (outcome.error) throw outcome.error;
    return leaseView(outcome.lease);
  }

  async revokePrefix(caller: Caller, prefix: string) {
    const [engineName, roleName, extra] = prefix.split("/");
    if (extra !== undefined || !engineName) throw new VaultError("validation_error", "prefix is <engine> or <engine>/<role>", { details: { fields: { prefix: "must be <engine> or <engine>/<role>" } } });
    caller.ctx.audit.extra = { engine: engineName, role: roleName ?? null };
    const engine = await this.deps.engines.require(caller, engineName);
    const ids = await this.deps.store.liveLeaseIds(engine.id, roleName ?? null);
    const revoked: string[] = [];
    const failed: string[] = [];
    for (const id of ids) {
      const outcome = await this.revokeAtSource(id, "prefix", caller);
      (outcome.error ? failed : revoked).push(id);
    }
    caller.ctx.audit.extra = { engine: engineName, role: roleName ?? null, lease_ids: revoked, failed };
    return { revoked: revoked.length, failed: failed.length, lease_ids: revoked };
  }

  /** One revocation attempt now, for a caller (waits out another node's attempt in progress). */
  async revokeAtSource(id: string, reason: RevokeReason, caller: Caller) {
    return this.deps.revoker.revokeNow(id, reason, caller);
  }
}

/** 410 for a lease that is no longer active (contract D5). */
function ended(row: LeaseRow, now: number): VaultError {
  const reasonExpired = row.state === "expired" || (row.state === "revoke_failed" && row.revoke_reason === "expired") || (row.state === "active" && row.expires_at <= now);
  const error = reasonExpired
    ? new VaultError("lease_expired", "The lease has expired", { details: { lease_id: row.id, expires_at: iso(row.expires_at) } })
    : new VaultError("lease_revoked", "The lease was revoked", { details: { lease_id: row.id } });
  if (row.state !== "active" || row.expires_at <= now) throw error;
  return error;
}
