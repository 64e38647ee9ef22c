import type { Keyring } from "../crypto/keyring.js";
import type { Queryable } from "../storage/contract.js";

/**
 * CA keys are sealed like secret versions (a fresh data key wrapped by the tenant's key), bound to
 * an address no secret can have: secret paths never contain `#`, so a CA key's ciphertext cannot be
 * passed off as a secret's, nor one CA's as another's.
 */
const caKeyAddress = (tenantId: string, caId: string) => ({ tenantId, path: `#pki/ca/${caId}`, version: 1 });

export interface SealedKey {
  key_ciphertext: Buffer;
  key_wrapped: Buffer;
  key_id: string;
}

export async function sealCaKey(keyring: Keyring, tx: Queryable, tenantId: string, partnerId: string, caId: string, pkcs8: Buffer): Promise<SealedKey> {
  await keyring.ensureTenantKey(tenantId, partnerId, tx);
  const sealed = await keyring.encryptSecret(caKeyAddress(tenantId, caId), pkcs8, tx);
  return { key_ciphertext: sealed.ciphertext, key_wrapped: sealed.wrappedDataKey, key_id: sealed.tenantKeyId };
}

export async function openCaKey(keyring: Keyring, tenantId: string, caId: string, sealed: SealedKey): Promise<Buffer> {
  return keyring.decryptSecret(caKeyAddress(tenantId, caId), { ciphertext: Buffer.from(sealed.key_ciphertext), wrappedDataKey: Buffer.from(sealed.key_wrapped), tenantKeyId: sealed.key_id });
}
