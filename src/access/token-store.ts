import { boundedPage, type Condition } from "../storage/bounded-page.js";
import { pruneById, type PruneStep } from "../ops/retention.js";
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

  /** One page of a tenant's tokens (or one identity's) in id order; `next` is the id the next page starts after. */
  async listForTenant(partnerId: string, tenantId: string, after: string | null, limit: number, filter: { identityId?: string; kind?: TokenKind; includeRevoked?: boolean } = {}): Promise<{ records: TokenRecord[]; next: string | null }> {
    const filters: Condition[] = [];
    if (filter.kind) filters.push({ sql: "kind = ?", params: [filter.kind] });
    if (filter.includeRevoked === false) filters.push({ sql: "revoked_at IS NULL", params: [] });
    const byIdentity = Boolean(filter.identityId);
    const page = await boundedPage<TokenRow>(this.db, {
      table: "tokens",
      index: byIdentity ? "tokens_identity_list" : "tokens_tenant_list",
      columns: READ_COLUMNS,
      // The partner is implied by the tenant and checked on each row read, as before.
      scope: [{ sql: "tenant_id = ?", params: [tenantId] }, ...(byIdentity ? [{ sql: "identity_id = ?", params: [filter.identityId!] }] : []), { sql: "partner_id = ?", params: [partnerId] }],
      filters,
      order: ["id"],
      descending: false,
      after: after === null ? null : [after],
      limit,
    });
    return { records: page.rows.map(toRecord), next: page.next === null ? null : String(page.next[0]) };
  }

  /** The hashes of (at most `limit`) tokens revoked under revocation counts above `seq`, along `tokens_revoked_seq`. */
  async revokedSince(seq: number, limit: number): Promise<Array<{ tokenHash: string; seq: number }>> {
    const rows = await this.db.all<{ token_hash: string; revoked_seq: number | string }>("SELECT token_hash, revoked_seq FROM tokens WHERE revoked_seq > ? LIMIT ?", [seq, limit]);
    return rows.map((row) => ({ tokenHash: row.token_hash, seq: Number(row.revoked_seq) }));
  }
}

/** Which live tokens a revocation ends: one token, every token a trust issued, or every token of one identity. */
export type RevokedTokens = { id: string } | { trustId: string } | { tenantId: string; identityId: string };

const REVOKED_BY: { [K in "id" | "trustId" | "identityId"]: string } = {
  id: "id = ?",
  trustId: "trust_id = ?",
  identityId: "tenant_id = ? AND identity_id = ?",
};

/**
 * Revokes the live tokens `which` selects, in `tx`, and answers how many. The revocation counter
 * moves first (on PostgreSQL its row stays locked until commit, so revocations are numbered in
 * commit order) and each revoked row keeps the count it was revoked under: every node drops those
 * tokens from its cache, and no other (VaultTokens). When nothing was live the count moves back
 * within the transaction, so nodes never see it move.
 */
export async function revokeTokens(tx: Queryable, which: RevokedTokens, at: number): Promise<number> {
  // A trust's or an identity's revocation ends the tokens still live; those already expired stay
  // expired. It marked every unrevoked token in the credentials' retention: for a busy CI trust,
  // hundreds of thousands of rows in one transaction, each then dropped by every node's cache
  // (docs/benchmarks.md round 34). One token named by id is marked as asked.
  const live = " AND (expires_at IS NULL OR expires_at > ?)";
  const [where, params] =
    "id" in which
      ? [REVOKED_BY.id, [which.id]]
      : "trustId" in which
        ? [`${REVOKED_BY.trustId}${live}`, [which.trustId, at]]
        : [`${REVOKED_BY.identityId}${live}`, [which.tenantId, which.identityId, at]];
  await tx.run("UPDATE access_epoch SET revocations = revocations + 1 WHERE id = 1");
  const { changes } = await tx.run(
    `UPDATE tokens SET revoked_at = ?, revoked_seq = (SELECT revocations FROM access_epoch WHERE id = 1) WHERE ${where} AND revoked_at IS NULL`,
    [at, ...params],
  );
  if (changes === 0) await tx.run("UPDATE access_epoch SET revocations = revocations - 1 WHERE id = 1");
  return changes;
}

/**
 * Tokens that ended (expired, or revoked) before the retention cutoff (SCAIVAULT_CREDENTIALS_RETENTION):
 * every exchange leaves a row, so without this the table grows with every workload's login. A
 * pruned token answers `401 token_invalid` instead of `token_expired` / `token_revoked`; its
 * creation and revocation stay in the audit trail. Each statement walks its partial index
 * (migration 0104), so a pass with nothing to prune reads one index entry.
 */
export const ENDED_TOKENS: readonly PruneStep<"tokens_expired" | "tokens_revoked">[] = [
  {
    name: "tokens_expired",
    sql: pruneById("tokens", "expires_at < ?"),
    params: (cutoff) => [cutoff],
  },
  {
    // Nodes find what to drop from their caches in the revoked rows (revokedSince): the horizon
    // first moves past the revocations about to go, so a node that has not caught up past it
    // empties its token cache instead (VaultTokens), and no row is pruned above the horizon.
    name: "tokens_revoked",
    before: `UPDATE access_epoch SET revocations_pruned = COALESCE(
               (SELECT MAX(revoked_seq) FROM tokens WHERE revoked_at < ? AND revoked_seq > revocations_pruned), revocations_pruned)
             WHERE id = 1`,
    sql: pruneById("tokens", "revoked_at < ? AND (revoked_seq IS NULL OR revoked_seq <= (SELECT revocations_pruned FROM access_epoch WHERE id = 1))"),
    params: (cutoff) => [cutoff],
  },
];
