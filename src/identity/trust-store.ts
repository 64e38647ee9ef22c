import type { Database, Queryable } from "../storage/contract.js";
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

export class TrustStore {
  constructor(private readonly db: Database) {}

  async insert(t: Trust, tx: Queryable): Promise<void> {
    await tx.run(`INSERT INTO exchange_trusts (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [t.id, t.partnerId, t.tenantId, t.name, t.issuer, t.enabled ? 1 : 0, bodyOf(t), t.createdBy, t.createdAt, t.updatedAt]);
  }

  async update(t: Trust, tx: Queryable): Promise<void> {
    await tx.run("UPDATE exchange_trusts SET name = ?, issuer = ?, enabled = ?, body = ?, updated_at = ? WHERE id = ?", [t.name, t.issuer, t.enabled ? 1 : 0, bodyOf(t), t.updatedAt, t.id]);
  }

  async delete(id: string, tx: Queryable): Promise<void> {
    await tx.run("DELETE FROM exchange_trusts WHERE id = ?", [id]);
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

  /** Enabled trusts for an issuer (any tenant), oldest first. */
  async forIssuer(issuer: string): Promise<Trust[]> {
    return (await this.db.all<Row>(`SELECT ${COLUMNS} FROM exchange_trusts WHERE issuer = ? AND enabled = 1 ORDER BY created_at, id`, [issuer])).map(toTrust);
  }

  /** Revokes every live token a trust issued (revokeTokens: nodes drop exactly those); answers how many. */
  async revokeIssued(trustId: string, now: number, tx: Queryable): Promise<number> {
    return revokeTokens(tx, { trustId }, now);
  }
}
