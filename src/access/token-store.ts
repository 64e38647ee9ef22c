import type { Database, Queryable } from "../storage/contract.js";
import type { IdentityType, Role } from "./principal.js";

export interface TokenRecord {
  id: string;
  tokenHash: string;
  partnerId: string;
  tenantId: string | null;
  identityId: string;
  identityType: IdentityType;
  scopes: string[];
  roles: Role[];
  description: string | null;
  createdBy: string | null;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  /** spec/identity.md §5; absent on insert means `service`. */
  kind?: TokenKind;
  /** Exchange tokens: the trust that issued them, the foreign subject, and the path globs allowed. */
  trustId?: string | null;
  subject?: string | null;
  allowedPaths?: string[][] | null;
  /** When a request last authenticated with it (coalesced: moved at most once a minute). */
  lastUsedAt?: number | null;
}

export type TokenKind = "personal" | "service" | "bootstrap" | "exchange";

interface TokenRow {
  id: string;
  token_hash: string;
  partner_id: string;
  tenant_id: string | null;
  identity_id: string;
  identity_type: IdentityType;
  scopes: string;
  roles: string;
  description: string | null;
  created_by: string | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  kind: TokenKind;
  trust_id: string | null;
  subject: string | null;
  allowed_paths: string | null;
  last_used_at: number | null;
}

const COLUMNS = "id, token_hash, partner_id, tenant_id, identity_id, identity_type, scopes, roles, description, created_by, created_at, expires_at, revoked_at, kind, trust_id, subject, allowed_paths";
/** Read back with the usage figure, which is written apart from the token (touchLastUsed). */
const READ_COLUMNS = `${COLUMNS}, last_used_at`;

const toRecord = (row: TokenRow): TokenRecord => ({
  id: row.id,
  tokenHash: row.token_hash,
  partnerId: row.partner_id,
  tenantId: row.tenant_id,
  identityId: row.identity_id,
  identityType: row.identity_type,
  scopes: JSON.parse(row.scopes) as string[],
  roles: JSON.parse(row.roles) as Role[],
  description: row.description,
  createdBy: row.created_by,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  revokedAt: row.revoked_at,
  kind: row.kind,
  trustId: row.trust_id,
  subject: row.subject,
  allowedPaths: row.allowed_paths ? (JSON.parse(row.allowed_paths) as string[][]) : null,
  lastUsedAt: row.last_used_at ?? null,
});

export class TokenStore {
  /** Moves `last_used_at` forward only (several nodes may touch the same token). */
  async touchLastUsed(id: string, at: number): Promise<void> {
    await this.db.run("UPDATE tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)", [at, id, at]);
  }

  constructor(private readonly db: Database) {}

  async insert(token: TokenRecord, tx?: Queryable): Promise<void> {
    await (tx ?? this.db).run(`INSERT INTO tokens (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
      token.id,
      token.tokenHash,
      token.partnerId,
      token.tenantId,
      token.identityId,
      token.identityType,
      JSON.stringify(token.scopes),
      JSON.stringify(token.roles),
      token.description,
      token.createdBy,
      token.createdAt,
      token.expiresAt,
      token.revokedAt,
      token.kind ?? "service",
      token.trustId ?? null,
      token.subject ?? null,
      token.allowedPaths ? JSON.stringify(token.allowedPaths) : null,
    ]);
  }

  async findByHash(tokenHash: string): Promise<TokenRecord | undefined> {
    const row = await this.db.get<TokenRow>(`SELECT ${READ_COLUMNS} FROM tokens WHERE token_hash = ?`, [tokenHash]);
    return row ? toRecord(row) : undefined;
  }

  async findById(id: string, tx?: Queryable): Promise<TokenRecord | undefined> {
    const row = await (tx ?? this.db).get<TokenRow>(`SELECT ${READ_COLUMNS} FROM tokens WHERE id = ?`, [id]);
    return row ? toRecord(row) : undefined;
  }

  async listForTenant(partnerId: string, tenantId: string, after: string | null, limit: number, filter: { identityId?: string; kind?: TokenKind; includeRevoked?: boolean } = {}): Promise<TokenRecord[]> {
    const where = ["partner_id = ?", "tenant_id = ?", "id > ?"];
    const params: Array<string | number> = [partnerId, tenantId, after ?? ""];
    if (filter.identityId) where.push("identity_id = ?"), params.push(filter.identityId);
    if (filter.kind) where.push("kind = ?"), params.push(filter.kind);
    if (filter.includeRevoked === false) where.push("revoked_at IS NULL");
    const rows = await this.db.all<TokenRow>(`SELECT ${READ_COLUMNS} FROM tokens WHERE ${where.join(" AND ")} ORDER BY id LIMIT ?`, [...params, limit]);
    return rows.map(toRecord);
  }

  async revoke(id: string, at: number, tx?: Queryable): Promise<boolean> {
    const result = await (tx ?? this.db).run("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [at, id]);
    return result.changes > 0;
  }
}
