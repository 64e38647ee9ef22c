import { createHmac, timingSafeEqual } from "node:crypto";
import { VaultError } from "../http/errors.js";
import { newId, randomBase62 } from "../shared/ids.js";
import type { Queryable } from "../storage/contract.js";
import type { IdentityType, Principal, Role } from "./principal.js";
import type { TokenRecord, TokenStore } from "./token-store.js";

export const VAULT_TOKEN_PREFIX = "skt_";
const TOKEN_SHAPE = /^skt_[A-Za-z0-9_-]{32,200}$/;

export interface IssueTokenInput {
  partnerId: string;
  tenantId: string | null;
  identityId: string;
  identityType: IdentityType;
  scopes: string[];
  roles: Role[];
  description: string | null;
  createdBy: string | null;
  expiresAt: number | null;
  /** Use this exact token (the configured bootstrap token) instead of a fresh one. */
  plaintext?: string;
}

/**
 * Vault-issued bearer tokens: 43 base62 characters (≈256 bits) after `skt_`, stored only as an
 * HMAC under a vault-held key, so a database dump reveals no usable token.
 */
export class VaultTokens {
  /** `hashKey` is a vault-held system key (see Keyring.systemKey), loaded once at start. */
  constructor(private readonly store: TokenStore, private readonly hashKey: Buffer) {}

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
    };
    await this.store.insert(record, tx);
    return { token, record };
  }

  async revoke(id: string, at: number, tx?: Queryable): Promise<boolean> {
    return this.store.revoke(id, at, tx);
  }

  async isRegistered(token: string): Promise<boolean> {
    return (await this.store.findByHash(await this.hash(token))) !== undefined;
  }

  async authenticate(bearer: string, now = Date.now()): Promise<Principal> {
    if (!TOKEN_SHAPE.test(bearer)) throw new VaultError("token_invalid", "The token is not valid");
    const presented = await this.hash(bearer);
    const record = await this.store.findByHash(presented);
    // The lookup is by keyed hash; the final comparison is constant-time all the same.
    if (!record || !timingSafeEqual(Buffer.from(record.tokenHash, "hex"), Buffer.from(presented, "hex"))) {
      throw new VaultError("token_invalid", "The token is not valid");
    }
    if (record.revokedAt !== null) throw new VaultError("token_revoked", "The token has been revoked");
    if (record.expiresAt !== null && record.expiresAt <= now) throw new VaultError("token_expired", "The token has expired");
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
    };
  }
}
