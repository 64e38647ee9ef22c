import type { AuditRecorder } from "../audit/recorder.js";
import type { EventOutbox, NewEvent, VaultEvent } from "../events/outbox.js";
import type { Caller } from "../http/context.js";
import { VaultError } from "../http/errors.js";
import { decodeCursor, encodeCursor } from "../shared/cursor.js";
import { newId } from "../shared/ids.js";
import { iso, isoOrNull } from "../shared/time.js";
import { requireValidPath } from "../secrets/paths.js";
import { isUniqueViolation, type Database, type Queryable } from "../storage/contract.js";
import type { Authorizer } from "./authorizer.js";
import { conditionsProblem } from "./conditions.js";
import { globProblem } from "./glob.js";
import type { Binding, Policy, PolicyRule } from "./policy-model.js";
import type { CreateBindingBody, CreatePolicyBody, ListBindingsQuery, ListPoliciesQuery, PatchPolicyBody, ReplacePolicyBody, RuleInput, TestPolicyBody } from "./policy-schemas.js";
import type { PolicyReach, PolicyStore } from "./policy-store.js";
import { isPartnerAdmin } from "./principal.js";
import { assertCoveredBy, assertGrantsCovered, callerPolicySet, isEscalationExempt } from "./escalation.js";
import type { CompiledPolicySet } from "./authorizer.js";
import { normalizeIdentity } from "./identities.js";
import { PERMISSIONS, type Permission } from "./scopes.js";

export interface PolicyServiceDeps {
  db: Database;
  store: PolicyStore;
  authorizer: Authorizer;
  audit: AuditRecorder;
  events: EventOutbox;
}

/** Rules as given → rules as stored; the first problem answers with its specific code. */
export function normalizeRules(rules: readonly RuleInput[]): PolicyRule[] {
  return rules.map((rule, index) => {
    const where = `rules[${index}]`;
    const glob = globProblem(rule.path_pattern);
    if (glob) throw new VaultError("invalid_glob", `${where}.path_pattern: ${glob}`, { details: { rule_index: index, path_pattern: rule.path_pattern } });
    if (rule.permissions.length === 0) throw new VaultError("invalid_policy", `${where}.permissions must name at least one permission`, { details: { rule_index: index } });
    for (const permission of rule.permissions) {
      if (!(PERMISSIONS as readonly string[]).includes(permission)) {
        throw new VaultError("invalid_policy", `${where}.permissions: "${permission}" is not one of ${PERMISSIONS.join(", ")}`, { details: { rule_index: index } });
      }
    }
    const effect = rule.effect ?? "allow";
    if (effect !== "allow" && effect !== "deny") throw new VaultError("invalid_policy", `${where}.effect must be allow or deny`, { details: { rule_index: index } });
    const normalized: PolicyRule = { path_pattern: rule.path_pattern, permissions: [...new Set(rule.permissions)] as Permission[], effect };
    if (rule.conditions && Object.keys(rule.conditions).length > 0) {
      const problem = conditionsProblem(rule.conditions);
      if (problem) throw new VaultError("invalid_policy", `${where}.conditions.${problem}`, { details: { rule_index: index } });
      normalized.conditions = rule.conditions;
    }
    return normalized;
  });
}

export function bindingView(binding: Binding) {
  return {
    id: binding.id,
    policy_id: binding.policyId,
    identity_type: binding.identityType,
    identity_id: binding.identityId,
    expires_at: isoOrNull(binding.expiresAt),
    created_at: iso(binding.createdAt),
    created_by: binding.createdBy ?? null,
  };
}

export function policyView(policy: Policy, bindings?: Binding[]) {
  return {
    id: policy.id,
    name: policy.name,
    description: policy.description,
    scope: policy.scope,
    tenant_id: policy.tenantId,
    partner_id: policy.partnerId,
    rules: policy.rules.map((r) => ({ path_pattern: r.path_pattern, permissions: r.permissions, conditions: r.conditions ?? null, effect: r.effect ?? "allow" })),
    is_active: policy.isActive !== false,
    builtin: policy.builtin,
    ...(bindings ? { bindings: bindings.map(bindingView) } : {}),
    created_at: iso(policy.createdAt),
    updated_at: iso(policy.updatedAt),
  };
}

function parseTime(field: string, text: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) throw new VaultError("validation_error", `${field} must be an RFC 3339 time`, { details: { fields: { [field]: "must be an RFC 3339 time such as 2026-04-23T14:00:00Z" } } });
  return ms;
}

/** Policies and bindings: every change commits with its audit entry, its event and a policy-counter bump naming its reach. */
export class PolicyService {
  constructor(private readonly deps: PolicyServiceDeps) {}

  private owner(caller: Caller) {
    return { partnerId: caller.tenant.partnerId, tenantId: caller.tenant.tenantId };
  }

  /**
   * `work` returns its answer and the policy it changed: the change reaches that policy's tenant,
   * or every tenant of its partner for a partner-wide one (bindings take their policy's reach).
   */
  private async change<T>(caller: Caller, status: number, work: (tx: Queryable, emit: (e: Omit<NewEvent, "tenant_id" | "partner_id" | "identity_id" | "request_id" | "path">) => Promise<void>) => Promise<{ answer: T; policy: PolicyReach }>): Promise<T> {
    const events: VaultEvent[] = [];
    try {
      const result = await this.deps.db.transaction(async (tx) => {
        const { answer, policy } = await work(tx, async (event) => {
          const base = { tenant_id: caller.tenant.tenantId, partner_id: caller.tenant.partnerId, identity_id: caller.principal.identityId, request_id: caller.requestId, path: null };
          events.push(await this.deps.events.append(tx, { ...base, ...event }));
        });
        await this.deps.store.bumpPolicies(tx, { partnerId: policy.partnerId, tenantId: policy.tenantId });
        await this.deps.audit.recordInTransaction(tx, caller, status);
        return answer;
      });
      this.deps.events.published(events);
      return result;
    } catch (error) {
      if (isUniqueViolation(error)) throw new VaultError("already_exists", "That already exists");
      throw error;
    }
  }

  /** A policy the caller can see; changing a partner-wide one is for partner admins, the built-in one for no one. */
  private async requirePolicy(caller: Caller, id: string, tx?: Queryable, forChange = false): Promise<Policy> {
    caller.ctx.audit.extra = { ...caller.ctx.audit.extra, policy_id: id };
    const policy = await this.deps.store.getVisible(this.owner(caller), id, tx);
    if (!policy) throw new VaultError("policy_not_found", "No such policy", { details: { policy_id: id } });
    if (forChange && policy.scope === "partner" && !isPartnerAdmin(caller.principal)) {
      throw new VaultError("forbidden", "Only partner admins may change partner-wide policies");
    }
    return policy;
  }

  /** The caller's own policies, loaded before the change's transaction opens (null: exempt from the cover rule). */
  private held(caller: Caller): Promise<CompiledPolicySet | null> {
    return isEscalationExempt(caller.principal) ? Promise.resolve(null) : callerPolicySet(this.deps.authorizer, caller);
  }

  async create(caller: Caller, body: CreatePolicyBody) {
    const rules = normalizeRules(body.rules);
    const scope = body.scope ?? "tenant";
    if (scope === "partner" && !isPartnerAdmin(caller.principal)) throw new VaultError("forbidden", "Only partner admins may create partner-wide policies");
    await assertGrantsCovered(this.deps.authorizer, caller, rules, "create this policy");
    const now = Date.now();
    const policy: Policy = {
      id: newId("pol"),
      partnerId: caller.tenant.partnerId,
      tenantId: scope === "partner" ? null : caller.tenant.tenantId,
      scope,
      name: body.name,
      description: body.description ?? null,
      rules,
      builtin: false,
      isActive: body.is_active ?? true,
      createdAt: now,
      updatedAt: now,
    };
    caller.ctx.audit.extra = { policy_id: policy.id, name: policy.name, scope };
    return this.change(caller, 201, async (tx, emit) => {
      if (await this.deps.store.nameTaken(policy.partnerId, policy.tenantId, policy.name, null, tx)) {
        throw new VaultError("already_exists", `A policy named "${policy.name}" already exists`, { details: { name: policy.name } });
      }
      await this.deps.store.insertPolicy(policy, tx);
      await emit({ event_type: "policy.created", data: { policy_id: policy.id, name: policy.name, scope } });
      return { answer: policyView(policy, []), policy };
    });
  }

  async get(caller: Caller, id: string) {
    const policy = await this.requirePolicy(caller, id);
    return policyView(policy, await this.deps.store.bindings(policy.id));
  }

  async list(caller: Caller, query: ListPoliciesQuery) {
    const limit = query.limit ?? 100;
    const after = decodeCursor<{ i: string }>(query.cursor, { i: "string" });
    const rows = await this.deps.store.listVisible(this.owner(caller), { scope: query.scope, includeInactive: query.include_inactive === true }, after?.i ?? null, limit + 1);
    const page = rows.slice(0, limit);
    const hasMore = rows.length > limit;
    return {
      policies: page.map((p) => ({
        id: p.id,
        name: p.name,
        description: p.description,
        scope: p.scope,
        rule_count: p.rules.length,
        binding_count: p.bindingCount,
        is_active: p.isActive !== false,
        builtin: p.builtin,
        created_at: iso(p.createdAt),
        updated_at: iso(p.updatedAt),
      })),
      cursor: hasMore ? encodeCursor({ i: page[page.length - 1].id }) : null,
      has_more: hasMore,
    };
  }

  /** PUT (every field given) and PATCH (only the given fields); bindings and scope stay. */
  async update(caller: Caller, id: string, body: ReplacePolicyBody | PatchPolicyBody, replace: boolean) {
    const rules = body.rules ? normalizeRules(body.rules) : undefined;
    const held = await this.held(caller);
    return this.change(caller, 200, async (tx, emit) => {
      const existing = await this.requirePolicy(caller, id, tx, true);
      if (existing.builtin) throw new VaultError("forbidden", "The built-in policy cannot be changed; bind other policies instead");
      // The answer shows the policy with its bindings (the docs' shape), so they are read anyway.
      const bindings = await this.deps.store.bindings(id, tx);
      if (bindings.some((b) => b.identityId !== caller.principal.identityId)) assertCoveredBy(caller, held, existing.rules, "change this policy, which is bound to others");
      const updated: Policy = {
        ...existing,
        name: body.name ?? existing.name,
        description: body.description !== undefined ? body.description : replace ? null : existing.description,
        rules: rules ?? existing.rules,
        isActive: body.is_active ?? (replace ? true : existing.isActive),
        updatedAt: Date.now(),
      };
      if (updated.isActive !== false) assertCoveredBy(caller, held, updated.rules, "change this policy");
      if (updated.name !== existing.name && (await this.deps.store.nameTaken(updated.partnerId, updated.tenantId, updated.name, updated.id, tx))) {
        throw new VaultError("already_exists", `A policy named "${updated.name}" already exists`, { details: { name: updated.name } });
      }
      await this.deps.store.updatePolicy(updated, tx);
      await emit({ event_type: "policy.updated", data: { policy_id: id, name: updated.name } });
      return { answer: policyView(updated, bindings), policy: existing };
    });
  }

  async delete(caller: Caller, id: string, force: boolean) {
    caller.ctx.audit.extra = { policy_id: id, force };
    const held = await this.held(caller);
    return this.change(caller, 200, async (tx, emit) => {
      const existing = await this.requirePolicy(caller, id, tx, true);
      if (existing.builtin) throw new VaultError("forbidden", "The built-in policy cannot be deleted");
      if (await this.deps.store.boundToOthers(id, caller.principal.identityId, tx)) assertCoveredBy(caller, held, existing.rules, "delete this policy, which is bound to others");
      const bound = await this.deps.store.countBindings(id, tx);
      if (bound > 0 && !force) {
        throw new VaultError("policy_in_use", `The policy has ${bound} binding(s): remove them first or delete with ?force=true`, { details: { binding_count: bound } });
      }
      await this.deps.store.deletePolicy(id, tx);
      await emit({ event_type: "policy.deleted", data: { policy_id: id, name: existing.name, removed_bindings: bound } });
      return { answer: { id, deleted: true, removed_bindings: bound }, policy: existing };
    });
  }

  /** **ext** pages: `limit` (default and most 1,000) and `cursor`; the list had none and sorted every binding. */
  async listBindings(caller: Caller, id: string, query: ListBindingsQuery) {
    await this.requirePolicy(caller, id);
    const limit = query.limit ?? 1000;
    const after = decodeCursor<{ c: number; i: string }>(query.cursor, { c: "number", i: "string" });
    const rows = await this.deps.store.bindingPage(id, after ?? null, limit + 1);
    const page = rows.slice(0, limit);
    const hasMore = rows.length > limit;
    const last = page[page.length - 1];
    return { data: page.map(bindingView), cursor: hasMore && last ? encodeCursor({ c: last.createdAt, i: last.id }) : null, has_more: hasMore };
  }

  async bind(caller: Caller, id: string, body: CreateBindingBody) {
    const identityId = normalizeIdentity(body.identity_type, body.identity_id);
    const expiresAt = body.expires_at ? parseTime("expires_at", body.expires_at) : null;
    const now = Date.now();
    if (expiresAt !== null && expiresAt <= now) {
      throw new VaultError("validation_error", "expires_at is in the past", { details: { fields: { expires_at: "must be in the future" } } });
    }
    const held = await this.held(caller);
    return this.change(caller, 201, async (tx, emit) => {
      const policy = await this.requirePolicy(caller, id, tx, true);
      assertCoveredBy(caller, held, policy.rules, "bind this policy");
      if (await this.deps.store.findBinding(id, identityId, tx)) {
        throw new VaultError("already_exists", `${identityId} is already bound to this policy`, { details: { identity_id: identityId } });
      }
      const binding: Binding = {
        id: newId("bnd"),
        policyId: policy.id,
        partnerId: policy.partnerId,
        tenantId: policy.tenantId,
        identityType: body.identity_type,
        identityId,
        expiresAt,
        createdAt: now,
        createdBy: caller.principal.identityId,
      };
      caller.ctx.audit.extra = { policy_id: id, binding_id: binding.id, identity_id: identityId };
      await this.deps.store.insertBinding(binding, tx);
      await emit({ event_type: "policy.binding.created", data: { policy_id: id, binding_id: binding.id, identity_type: binding.identityType, identity_id: identityId } });
      return { answer: bindingView(binding), policy };
    });
  }

  async unbind(caller: Caller, id: string, bindingId: string) {
    const held = await this.held(caller);
    return this.change(caller, 200, async (tx, emit) => {
      const policy = await this.requirePolicy(caller, id, tx, true);
      caller.ctx.audit.extra = { policy_id: id, binding_id: bindingId };
      const binding = await this.deps.store.bindingById(id, bindingId, tx);
      if (!binding) throw new VaultError("binding_not_found", "No such binding on this policy", { details: { binding_id: bindingId } });
      if (binding.identityId !== caller.principal.identityId) assertCoveredBy(caller, held, policy.rules, "remove another identity's binding of this policy");
      await this.deps.store.deleteBinding(id, bindingId, tx);
      await emit({ event_type: "policy.binding.deleted", data: { policy_id: id, binding_id: bindingId } });
      return { answer: { id: bindingId, policy_id: id, deleted: true }, policy };
    });
  }

  /** A dry run in the caller's tenant: what the named identity would get. Writes no audit entry. */
  async test(caller: Caller, body: TestPolicyBody) {
    const path = requireValidPath(body.path);
    const context = body.context ?? {};
    const now = context.timestamp ? parseTime("context.timestamp", context.timestamp) : Date.now();
    const identities = [body.identity_id, ...(body.groups ?? []).map((g) => (g.startsWith("group:") ? g : `group:${g}`))];
    const set = await this.deps.authorizer.compiledFor(caller.tenant.partnerId, caller.tenant.tenantId, identities, now, context.timestamp ? "none" : "read");
    const decision = set.decide(path, body.permission as Permission, { sourceIp: context.source_ip ?? null, mfaVerifiedAt: context.mfa_verified ? now : null, now });
    return { allowed: decision.allowed, code: decision.code, policy_id: decision.policyId, rule_index: decision.ruleIndex, failed_condition: decision.failedCondition };
  }
}
