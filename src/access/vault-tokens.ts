import { createHmac, timingSafeEqual } from "node:crypto";
import { VaultError } from "../http/errors.js";
import { newId, randomBase62 } from "../shared/ids.js";
import { LruMap } from "../shared/lru.js";
import type { Queryable } from "../storage/contract.js";
import type { Principal } from "./principal.js";
import { CounterCatchUp, type ReachedChange } from "./reach-log.js";
import { revokeTokens, type TokenRecord, type TokenStore } from "./token-store.js";

export const VAULT_TOKEN_PREFIX = "skt_";
const TOKEN_SHAPE = /^skt_[A-Za-z0-9_-]{32,200}$/;

/** What the issuer chooses; the id, hash, creation time and revocation state are the vault's. */
export interface IssueTokenInput extends Omit<TokenRecord, "id" | "tokenHash" | "createdAt" | "revokedAt"> {
  /** Use this exact token (the configured bootstrap token) instead of a fresh one. */
  plaintext?: string;
}

/** The access counters (the epoch, revocations, policy and directory changes), as one read of `access_epoch`. */
export interface AccessEpochs {
  access: number;
  /** Moved by every token revocation; each revoked row keeps its count (`revoked_seq`). */
  revocations: number;
  /** Not a counter: revocations up to this count may have been pruned with their rows (ENDED_TOKENS). */
  revocationsPruned: number;
  /** Moved by every policy or binding change; which tenants each reached is in `policy_changes`. */
  policies: number;
  /** Moved by every change to a tenant's directory entries; which tenant, in `directory_changes`. */
  directory: number;
}

/**
 * The access counters (see PolicyStore), each moved in the transaction of the change it counts.
 * The access epoch (a partner's status in the directory) drops every node's compiled policies,
 * directory entries and tokens. A token's revocation (also a trust's, and a sync's of a deleted
 * identity) moves the revocation counter, which drops the tokens revoked (revokeTokens); a policy or binding change the
 * policy counter, which drops the compiled policies of the tenants it reached; a change to a
 * tenant's directory (a sync, a role assignment) the directory counter, which drops the directory
 * entries cached for that tenant.
 */
export interface AccessEpoch {
  epochs(): Promise<AccessEpochs>;
  bumpEpoch(tx: Queryable): Promise<void>;
  bumpDirectory(tx: Queryable, tenantId: string): Promise<void>;
  directoryChangesSince(seq: number): Promise<ReachedChange[]>;
}

const MAX_CACHED_TOKENS = 10_000;

/** A node further behind than this many revoked tokens empties its token cache instead of reading them. */
const MAX_REVOCATIONS_READ = 1_000;

const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * Vault-issued bearer tokens: 43 base62 characters (≈256 bits) after `skt_`, stored only as an
 * HMAC under a vault-held key, so a database dump reveals no usable token.
 */
export class VaultTokens {
  /**
   * Known tokens by hash, each as it stands after every revocation this node has caught up to
   * (`revocations`): a revocation drops its own tokens (`revoked_seq`), the access epoch all of them.
   * Unknown tokens are never cached.
   */
  private readonly cache = new LruMap<string, TokenRecord>(MAX_CACHED_TOKENS);
  private accessSeen = -1;
  private readonly revocations = new CounterCatchUp(
    (seen) => this.store.revokedSince(seen, MAX_REVOCATIONS_READ + 1),
    (revoked, seen, target) => this.dropRevoked(revoked, seen, target),
  );

  /** `hashKey` is a vault-held system key (see Keyring.systemKey), loaded once at start. */
  constructor(private readonly store: TokenStore, private readonly hashKey: Buffer, private readonly access: AccessEpoch) {}

  static looksLikeVaultToken(bearer: string): boolean {
    return bearer.startsWith(VAULT_TOKEN_PREFIX);
  }

  private async hash(token: string): Promise<string> {
    return createHmac("sha256", this.hashKey).update(token, "utf8").digest("hex");
  }

  async issue(input: IssueTokenInput, tx?: Queryable): Promise<{ token: string; record: TokenRecord }> {
    const token = input.plaintext ?? `${VAULT_TOKEN_PREFIX}${randomBase62(43)}`;
    const record: TokenRecord = {
      id: newId("tok"),
      tokenHash: await this.hash(token),
      partnerId: input.partnerId,
      tenantId: input.tenantId,
      identityId: input.identityId,
      identityType: input.identityType,
      scopes: input.scopes,
      roles: input.roles,
      description: input.description,
      createdBy: input.createdBy,
      createdAt: Date.now(),
      expiresAt: input.expiresAt,
      revokedAt: null,
      kind: input.kind ?? "service",
      trustId: input.trustId ?? null,
      subject: input.subject ?? null,
      allowedPaths: input.allowedPaths ?? null,
    };
    await this.store.insert(record, tx);
    return { token, record };
  }

  /** Revokes a live token in `tx` (revokeTokens): every node drops it from its cache, and no other token. */
  async revoke(id: string, at: number, tx: Queryable): Promise<boolean> {
    return (await revokeTokens(tx, { id }, at)) > 0;
  }

  /**
   * The token's record, from the cache when it holds it: one single-row read of the counters per
   * request instead of a token lookup, and the counters read here also serve the directory and
   * policy caches (`Principal.accessCounters`).
   */
  private async lookup(hash: string): Promise<{ record: TokenRecord | undefined; epochs: AccessEpochs }> {
    const epochs = await this.access.epochs();
    await this.catchUp(epochs);
    const cached = this.cache.get(hash);
    if (cached) return { record: cached, epochs };
    const record = await this.store.findByHash(hash);
    // Kept only if the node caught up to nothing newer meanwhile: that catch-up may have run before
    // this record (read before a revocation it applied) was stored.
    if (record && this.accessSeen === epochs.access && this.revocations.position === epochs.revocations) this.cache.set(hash, record);
    return { record, epochs };
  }

  /** Applies the revocations (or the access epoch's move) counted up to `epochs`; older counters change nothing. */
  private async catchUp(epochs: AccessEpochs): Promise<void> {
    if (epochs.access > this.accessSeen) {
      this.cache.clear();
      this.accessSeen = epochs.access;
      this.revocations.skipTo(epochs.revocations);
      return;
    }
    if (!this.revocations.behind(epochs.revocations)) return;
    // Revoked rows at or below the horizon may be gone: a node that has not seen them starts over.
    if (this.cache.size === 0 || this.revocations.position < epochs.revocationsPruned) {
      this.cache.clear();
      this.revocations.skipTo(epochs.revocations);
      return;
    }
    // What is still missing after the catch-up was pruned with its expired row: an expired token is refused anyway.
    await this.revocations.catchUp(epochs.revocations);
  }

  /** Drops the tokens revoked after count `seen` (all of them when too many were) and answers the newest count applied. */
  private dropRevoked(revoked: ReadonlyArray<{ tokenHash: string; seq: number }>, seen: number, target: number): number {
    if (revoked.length > MAX_REVOCATIONS_READ) {
      this.cache.clear();
      return target;
    }
    let newest = seen;
    for (const { tokenHash, seq } of revoked) {
      this.cache.delete(tokenHash);
      newest = Math.max(newest, seq);
    }
    return newest;
  }

  async isRegistered(token: string): Promise<boolean> {
    return (await this.store.findByHash(await this.hash(token))) !== undefined;
  }

  async authenticate(bearer: string, now = Date.now()): Promise<Principal> {
    if (!TOKEN_SHAPE.test(bearer)) throw new VaultError("token_invalid", "The token is not valid");
    return this.authenticateHash(await this.hash(bearer), now);
  }

  /** Console sessions (src/console) keep a token's id, never the token: the same checks, found by id. */
  async authenticateById(id: string, now = Date.now()): Promise<Principal> {
    const record = await this.store.findById(id);
    if (!record) throw new VaultError("token_invalid", "The token is not valid");
    return this.authenticateHash(record.tokenHash, now);
  }

  private readonly lastNoted = new Map<string, number>();

  /**
   * `last_used_at` (spec/identity.md §5), written at most once a minute per token and node, off
   * the request's path: a failed write costs the figure's freshness, never the request.
   */
  private noteUse(id: string, now: number): void {
    if (now - (this.lastNoted.get(id) ?? 0) < LAST_USED_RESOLUTION_MS) return;
    if (this.lastNoted.size >= 10_000) this.lastNoted.clear();
    this.lastNoted.set(id, now);
    this.store.touchLastUsed(id, now).catch(() => this.lastNoted.delete(id));
  }

  private async authenticateHash(presented: string, now: number): Promise<Principal> {
    const { record, epochs } = await this.lookup(presented);
    // The lookup is by keyed hash; the final comparison is constant-time all the same.
    if (!record || !timingSafeEqual(Buffer.from(record.tokenHash, "hex"), Buffer.from(presented, "hex"))) {
      throw new VaultError("token_invalid", "The token is not valid");
    }
    if (record.revokedAt !== null) throw new VaultError("token_revoked", "The token has been revoked");
    if (record.expiresAt !== null && record.expiresAt <= now) throw new VaultError("token_expired", "The token has expired");
    this.noteUse(record.id, now);
    return {
      identityId: record.identityId,
      identityType: record.identityType,
      displayName: null,
      partnerId: record.partnerId,
      tenantId: record.tenantId,
      scopes: new Set(record.scopes),
      groups: [],
      roles: record.roles,
      mfaVerifiedAt: null,
      tokenExpiresAt: record.expiresAt,
      tokenIssuedAt: record.createdAt,
      tokenKind: "vault",
      tokenId: record.id,
      credentialKind: record.kind,
      ...(record.allowedPaths ? { allowedPaths: record.allowedPaths } : {}),
      accessCounters: epochs,
    };
  }
}

