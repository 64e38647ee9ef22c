import type { Database, Queryable } from "../storage/contract.js";
import { inJsonList } from "../storage/json-list.js";
import { heldInTenantTurn } from "../storage/tenant-lock.js";
import { quotaExceeded } from "../http/errors.js";
import { revokeTokens } from "../access/token-store.js";
import type { Conditions } from "./claims.js";

export interface TrustRule {
  description: string | null;
  conditions: Conditions;
  identity_id: string;
  scopes: string[];
  max_ttl: string | null;
  allowed_paths: string[] | null;
}

/** A token-exchange trust (spec/identity.md §4); `body` holds everything but the indexed columns. */
export interface Trust {
  id: string;
  partnerId: string;
  tenantId: string;
  name: string;
  description: string | null;
  issuer: string;
  audiences: string[];
  jwksUrl: string | null;
  jwks: { keys: unknown[] } | null;
  algorithms: string[];
  defaultTtl: string;
  maxTtl: string;
  enabled: boolean;
  rules: TrustRule[];
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
}

interface Row { id: string; partner_id: string; tenant_id: string; name: string; issuer: string; enabled: number; body: string; created_by: string | null; created_at: number | string; updated_at: number | string }
type Body = Pick<Trust, "description" | "audiences" | "jwksUrl" | "jwks" | "algorithms" | "defaultTtl" | "maxTtl" | "rules">;

const COLUMNS = "id, partner_id, tenant_id, name, issuer, enabled, body, created_by, created_at, updated_at";
const toTrust = (r: Row): Trust => ({
  ...(JSON.parse(r.body) as Body), id: r.id, partnerId: r.partner_id, tenantId: r.tenant_id, name: r.name, issuer: r.issuer, enabled: Boolean(Number(r.enabled)),
  createdBy: r.created_by, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
});
const bodyOf = (t: Trust): string => JSON.stringify({ description: t.description, audiences: t.audiences, jwksUrl: t.jwksUrl, jwks: t.jwks, algorithms: t.algorithms, defaultTtl: t.defaultTtl, maxTtl: t.maxTtl, rules: t.rules } satisfies Body);

// Any fixed number: the first half of the advisory lock key that makes one tenant's trust creations take turns.
const TRUST_CREATION_LOCK = 7_305_003;

export class TrustStore {
  constructor(private readonly db: Database, private readonly maxPerTenant: number) {}

  /**
   * Refuses a trust beyond SCAIVAULT_MAX_TRUSTS_PER_TENANT (disabled ones count: a PATCH turns them
   * back on). An exchange that names no tenant reads the trusts of its issuer and audiences in
   * every tenant; with no bound one tenant's trusts would be read on every tenant's exchange.
   */
  async requireRoom(tenantId: string, tx: Queryable): Promise<void> {
    const held = await heldInTenantTurn(tx, this.db.dialect, TRUST_CREATION_LOCK, tenantId, "SELECT COUNT(*) AS n FROM exchange_trusts WHERE tenant_id = ?", [tenantId]);
    if (held >= this.maxPerTenant) throw quotaExceeded("trusts", "tenant", this.maxPerTenant, "delete one first");
  }

  async insert(t: Trust, tx: Queryable): Promise<void> {
    await tx.run(`INSERT INTO exchange_trusts (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [t.id, t.partnerId, t.tenantId, t.name, t.issuer, t.enabled ? 1 : 0, bodyOf(t), t.createdBy, t.createdAt, t.updatedAt]);
    await this.putAudiences(t, tx);
  }

  async update(t: Trust, tx: Queryable): Promise<void> {
    await tx.run("UPDATE exchange_trusts SET name = ?, issuer = ?, enabled = ?, body = ?, updated_at = ? WHERE id = ?", [t.name, t.issuer, t.enabled ? 1 : 0, bodyOf(t), t.updatedAt, t.id]);
    await tx.run("DELETE FROM exchange_trust_audiences WHERE trust_id = ?", [t.id]);
    await this.putAudiences(t, tx);
  }

  async delete(id: string, tx: Queryable): Promise<void> {
    await tx.run("DELETE FROM exchange_trust_audiences WHERE trust_id = ?", [id]);
    await tx.run("DELETE FROM exchange_trusts WHERE id = ?", [id]);
  }

  private async putAudiences(t: Trust, tx: Queryable): Promise<void> {
    const audiences = [...new Set(t.audiences)];
    await tx.run(
      `INSERT INTO exchange_trust_audiences (issuer, audience, tenant_id, trust_id) VALUES ${audiences.map(() => "(?, ?, ?, ?)").join(", ")}`,
      audiences.flatMap((audience) => [t.issuer, audience, t.tenantId, t.id]),
    );
  }

  async get(tenantId: string, id: string, tx?: Queryable): Promise<Trust | undefined> {
    const row = await (tx ?? this.db).get<Row>(`SELECT ${COLUMNS} FROM exchange_trusts WHERE tenant_id = ? AND id = ?`, [tenantId, id]);
    return row ? toTrust(row) : undefined;
  }

  async nameTaken(tenantId: string, name: string, exceptId: string | null, tx: Queryable): Promise<boolean> {
    return (await tx.get("SELECT id FROM exchange_trusts WHERE tenant_id = ? AND name = ? AND id <> ?", [tenantId, name, exceptId ?? ""])) !== undefined;
  }

  async list(tenantId: string, after: string | null, limit: number): Promise<Trust[]> {
    return (await this.db.all<Row>(`SELECT ${COLUMNS} FROM exchange_trusts WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`, [tenantId, after ?? "", limit])).map(toTrust);
  }

  /**
   * The enabled trusts that accept a token of `issuer` for any of `audiences`, oldest first, all of
   * one tenant: `tenantId`'s, or when it is null the only tenant that has any (`several: true`
   * when a second one has too, and then no trusts). Read along the audiences' index: at most the
   * one tenant's trusts (SCAIVAULT_MAX_TRUSTS_PER_TENANT), never every tenant's trusts of the issuer.
   */
  async accepting(issuer: string, audiences: readonly string[], tenantId: string | null): Promise<{ trusts: Trust[]; several: boolean }> {
    const matching = `FROM exchange_trust_audiences a JOIN exchange_trusts t ON t.id = a.trust_id
      WHERE a.issuer = ? AND ${inJsonList(this.db.dialect, "a.audience")} AND t.enabled = 1`;
    const params = [issuer, JSON.stringify([...new Set(audiences)])];
    let tenant = tenantId;
    if (tenant === null) {
      tenant = (await this.db.get<{ tenant_id: string }>(`SELECT a.tenant_id ${matching} LIMIT 1`, params))?.tenant_id ?? null;
      if (tenant === null) return { trusts: [], several: false };
      if (await this.db.get(`SELECT 1 AS found ${matching} AND a.tenant_id <> ? LIMIT 1`, [...params, tenant])) return { trusts: [], several: true };
    }
    const rows = await this.db.all<Row>(
      `SELECT ${COLUMNS} FROM exchange_trusts WHERE id IN (SELECT a.trust_id ${matching} AND a.tenant_id = ?) ORDER BY created_at, id`,
      [...params, tenant],
    );
    return { trusts: rows.map(toTrust), several: false };
  }

  /** Revokes every live token a trust issued (revokeTokens: nodes drop exactly those); answers how many. */
  async revokeIssued(trustId: string, now: number, tx: Queryable): Promise<number> {
    return revokeTokens(tx, { trustId }, now);
  }
}
