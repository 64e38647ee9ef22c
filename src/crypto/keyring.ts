import { createHmac, randomBytes } from "node:crypto";
import type { Database, Queryable } from "../storage/contract.js";
import { isUniqueViolation } from "../storage/contract.js";
import { ConfigError } from "../config/config.js";
import { newId } from "../shared/ids.js";
import { open, seal } from "./aead.js";
import { freshRandomBytes } from "./random.js";
import type { RootKeyProvider } from "./root-key.js";

type KeyKind = "partner" | "tenant" | "system";

interface KeyRow {
  id: string;
  kind: KeyKind;
  owner_id: string;
  wrapped: Buffer;
  wrapping_key_id: string;
}

export interface SealedSecret {
  ciphertext: Buffer;
  wrappedDataKey: Buffer;
  tenantKeyId: string;
}

export interface SecretAddress {
  tenantId: string;
  path: string;
  version: number;
}

const dataAad = (a: SecretAddress) => `scaivault:v1|data|${a.tenantId}|${a.path}|${a.version}`;
const dekAad = (a: SecretAddress, keyId: string) => `scaivault:v1|dek|${a.tenantId}|${a.path}|${a.version}|${keyId}`;
const keyAad = (kind: KeyKind, ownerId: string, keyId: string) => `scaivault:v1|${kind}-key|${ownerId}|${keyId}`;

/**
 * Envelope encryption: each secret version gets its own AES-256-GCM data key, wrapped by its
 * tenant's key, which is wrapped by its partner's key, which is wrapped by the root key. Every
 * wrap names the key that made it, and every ciphertext is bound (as associated data) to where it
 * belongs, so a ciphertext copied to another row or tenant does not decrypt.
 */
export class Keyring {
  private readonly unwrapped = new Map<string, Buffer>();

  constructor(private readonly db: Database, private readonly root: RootKeyProvider) {}

  get rootKeyId(): string {
    return this.root.keyId;
  }

  async ensurePartnerKey(partnerId: string, tx?: Queryable): Promise<string> {
    return this.ensureKey("partner", partnerId, tx, (material, id) => this.root.wrap(material, keyAad("partner", partnerId, id)), this.root.keyId);
  }

  async ensureTenantKey(tenantId: string, partnerId: string, tx?: Queryable): Promise<string> {
    const partnerKeyId = await this.ensurePartnerKey(partnerId, tx);
    const partnerKey = await this.loadKey(partnerKeyId, tx);
    return this.ensureKey("tenant", tenantId, tx, async (material, id) => seal(partnerKey, material, keyAad("tenant", tenantId, id)), partnerKeyId);
  }

  /** `activeTenantKeyId`: the tenant's active key id when the caller already read it in `tx`. */
  async encryptSecret(address: SecretAddress, plaintext: Buffer, tx?: Queryable, activeTenantKeyId?: string): Promise<SealedSecret> {
    const tenantKeyId = activeTenantKeyId ?? (await this.activeKeyId("tenant", address.tenantId, tx));
    if (!tenantKeyId) throw new Error(`tenant ${address.tenantId} has no key`);
    const tenantKey = await this.loadKey(tenantKeyId, tx);
    const dataKey = freshRandomBytes(32);
    try {
      return {
        ciphertext: seal(dataKey, plaintext, dataAad(address)),
        wrappedDataKey: seal(tenantKey, dataKey, dekAad(address, tenantKeyId)),
        tenantKeyId,
      };
    } finally {
      dataKey.fill(0);
    }
  }

  async decryptSecret(address: SecretAddress, sealed: SealedSecret, tx?: Queryable): Promise<Buffer> {
    const tenantKey = await this.loadKey(sealed.tenantKeyId, tx);
    const dataKey = open(tenantKey, sealed.wrappedDataKey, dekAad(address, sealed.tenantKeyId));
    try {
      return open(dataKey, sealed.ciphertext, dataAad(address));
    } finally {
      dataKey.fill(0);
    }
  }

  /** Proves the root key can wrap and unwrap (readiness). */
  async selfTest(): Promise<void> {
    const probe = randomBytes(16);
    const back = await this.root.unwrap(await this.root.wrap(probe, "scaivault:v1|probe"), "scaivault:v1|probe");
    if (!back.equals(probe)) throw new Error("root key self-test failed");
  }

  /** A vault-held key for a purpose (audit HMACs, token hashes), created on first use. */
  async systemKey(purpose: string, tx?: Queryable): Promise<Buffer> {
    const id = await this.ensureKey("system", purpose, tx, (material, keyId) => this.root.wrap(material, keyAad("system", purpose, keyId)), this.root.keyId);
    return this.loadKey(id, tx);
  }

  /** HMAC-SHA256 under a system key, hex: how values worth correlating are recorded. */
  async hmacFor(purpose: string): Promise<(value: string) => string> {
    const key = await this.systemKey(purpose);
    return (value) => createHmac("sha256", key).update(value, "utf8").digest("hex");
  }

  private async activeKeyId(kind: KeyKind, ownerId: string, tx?: Queryable): Promise<string | undefined> {
    const row = await (tx ?? this.db).get<{ id: string }>("SELECT id FROM crypto_keys WHERE kind = ? AND owner_id = ? AND active = 1", [kind, ownerId]);
    return row?.id;
  }

  private async ensureKey(
    kind: KeyKind,
    ownerId: string,
    tx: Queryable | undefined,
    wrap: (material: Buffer, keyId: string) => Promise<Buffer>,
    wrappingKeyId: string,
  ): Promise<string> {
    const existing = await this.activeKeyId(kind, ownerId, tx);
    if (existing) return existing;
    const id = newId("key");
    const material = randomBytes(32);
    const wrapped = await wrap(material, id);
    try {
      await (tx ?? this.db).run(
        "INSERT INTO crypto_keys (id, kind, owner_id, wrapped, wrapping_key_id, active, created_at) VALUES (?, ?, ?, ?, ?, 1, ?)",
        [id, kind, ownerId, wrapped, wrappingKeyId, Date.now()],
      );
    } catch (error) {
      // Another node created it first: use theirs.
      if (!isUniqueViolation(error) || tx) throw error;
      const winner = await this.activeKeyId(kind, ownerId);
      if (!winner) throw error;
      return winner;
    }
    this.unwrapped.set(id, material);
    return id;
  }

  private async loadKey(id: string, tx?: Queryable): Promise<Buffer> {
    const cached = this.unwrapped.get(id);
    if (cached) return cached;
    const row = await (tx ?? this.db).get<KeyRow>("SELECT id, kind, owner_id, wrapped, wrapping_key_id FROM crypto_keys WHERE id = ?", [id]);
    if (!row) throw new Error(`key ${id} is missing`);
    if (row.kind !== "tenant" && row.wrapping_key_id !== this.root.keyId) {
      // Key ids are public fingerprints: naming them tells the operator which key to restore.
      throw new ConfigError("KMS_LOCAL_KEY", `the root key (${this.root.keyId}) is not the one this database's keys are wrapped with (${row.wrapping_key_id}); set KMS_LOCAL_KEY or KMS_LOCAL_KEY_FILE to that key`);
    }
    const aad = keyAad(row.kind, row.owner_id, row.id);
    const material =
      row.kind === "tenant"
        ? open(await this.loadKey(row.wrapping_key_id, tx), Buffer.from(row.wrapped), aad)
        : await this.root.unwrap(Buffer.from(row.wrapped), aad);
    this.unwrapped.set(id, material);
    return material;
  }
}
