import type { Caller } from "../../http/context.js";
import { validationError, VaultError } from "../../http/errors.js";
import { isUniqueViolation } from "../../storage/contract.js";
import { randomBase62 } from "../../shared/ids.js";
import { iso } from "../../shared/time.js";
import type { Queryable } from "../../storage/contract.js";
import { REVOCATION_REASONS, type PkiDeps } from "../common.js";
import { pick, placeholders, type CertRow } from "../store.js";
import { acme, acmeClient, acmeError, acmeExchange, directoryUrl, problemOf, type Environment, type Provider } from "./client.js";

export interface AccountRow {
  id: string;
  tenant_id: string;
  partner_id: string;
  name: string;
  provider: Provider;
  environment: Environment;
  directory_url: string;
  email: string | null;
  account_url: string;
  status: string;
  key_ciphertext: Buffer;
  key_wrapped: Buffer;
  key_id: string;
  created_by: string;
  created_at: number;
}

const COLUMNS = ["id", "tenant_id", "partner_id", "name", "provider", "environment", "directory_url", "email", "account_url", "status", "key_ciphertext", "key_wrapped", "key_id", "created_by", "created_at"] as const;

export interface AccountCreateBody {
  name: string;
  provider: Provider;
  environment?: Environment;
  email?: string;
  directory_url?: string;
  eab_kid?: string;
  eab_hmac_key?: string;
}

export function accountView(row: AccountRow) {
  return {
    id: row.id, name: row.name, provider: row.provider, environment: row.environment, directory_url: row.directory_url, email: row.email,
    status: row.status, account_url: row.account_url, created_at: iso(Number(row.created_at)),
  };
}

/**
 * Account keys are sealed as CA keys are (src/pki/keys.ts): a fresh data key wrapped by the
 * tenant's key, bound to an address no secret can have (`#`), so no other ciphertext passes for it.
 */
const keyAddress = (tenantId: string, accountId: string) => ({ tenantId, path: `#pki/acme/${accountId}`, version: 1 });

/** ACME accounts (contract P7): registered at the CA before the vault answers; keys never leave it. */
export class AcmeAccounts {
  constructor(private readonly deps: PkiDeps) {}

  async create(caller: Caller, body: AccountCreateBody) {
    if (body.provider === "zerossl" && body.environment === "staging") throw validationError({ environment: "zerossl has no staging directory" });
    const environment = body.environment ?? "production";
    const directory = directoryUrl(body.provider, environment, body.directory_url);
    if ((body.eab_kid === undefined) !== (body.eab_hmac_key === undefined)) throw validationError({ eab_hmac_key: "eab_kid and eab_hmac_key go together" });
    const tenantId = caller.tenant.tenantId;
    if (await this.deps.db.get("SELECT id FROM acme_accounts WHERE tenant_id = ? AND name = ?", [tenantId, body.name])) {
      throw new VaultError("already_exists", "An ACME account with this name exists in this tenant", { details: { name: body.name } });
    }
    const id = `acme_${randomBase62(20)}`;
    caller.ctx.audit.extra = { account_id: id, provider: body.provider, environment };
    const keyPem = await acme.crypto.createPrivateEcdsaKey("P-256");
    let accountUrl: string;
    try {
      const client = acmeClient(directory, keyPem.toString("utf8"), undefined, body.eab_kid ? { kid: body.eab_kid, hmacKey: body.eab_hmac_key! } : undefined);
      await acmeExchange(() => client.createAccount({ termsOfServiceAgreed: true, contact: body.email ? [`mailto:${body.email}`] : undefined }));
      accountUrl = client.getAccountUrl();
    } catch (error) {
      keyPem.fill(0);
      throw acmeError(error, "registering the account");
    }
    const now = Date.now();
    try {
      return await this.deps.secrets.mutate(caller, () => 201, async (tx) => {
        await this.deps.keyring.ensureTenantKey(tenantId, caller.tenant.partnerId, tx);
        const sealed = await this.deps.keyring.encryptSecret(keyAddress(tenantId, id), keyPem, tx);
        const row: AccountRow = {
          id, tenant_id: tenantId, partner_id: caller.tenant.partnerId, name: body.name, provider: body.provider, environment, directory_url: directory,
          email: body.email ?? null, account_url: accountUrl, status: "valid", key_ciphertext: sealed.ciphertext, key_wrapped: sealed.wrappedDataKey,
          key_id: sealed.tenantKeyId, created_by: caller.principal.identityId, created_at: now,
        };
        await tx.run(`INSERT INTO acme_accounts (${COLUMNS.join(", ")}) VALUES (${placeholders(COLUMNS.length)})`, pick(row, COLUMNS));
        return accountView(row);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new VaultError("already_exists", "An ACME account with this name exists in this tenant", { details: { name: body.name } });
      throw error;
    } finally {
      keyPem.fill(0);
    }
  }

  async list(caller: Caller) {
    const rows = await this.deps.db.all<AccountRow>("SELECT * FROM acme_accounts WHERE tenant_id = ? ORDER BY created_at, id", [caller.tenant.tenantId]);
    return { data: rows.map(accountView) };
  }

  async get(caller: Caller, id: string) {
    return accountView(await this.require(caller.tenant.tenantId, id));
  }

  async require(tenantId: string, id: string, q: Queryable = this.deps.db): Promise<AccountRow> {
    const row = await q.get<AccountRow>("SELECT * FROM acme_accounts WHERE tenant_id = ? AND id = ?", [tenantId, id]);
    if (!row) throw new VaultError("acme_account_not_found", "No ACME account with this id in this tenant", { details: { id } });
    return row;
  }

  /** The account's key, unsealed for one client; the caller zeroes it. */
  async client(row: AccountRow): Promise<{ client: acme.Client; wipe: () => void }> {
    const key = await this.deps.keyring.decryptSecret(keyAddress(row.tenant_id, row.id), {
      ciphertext: Buffer.from(row.key_ciphertext), wrappedDataKey: Buffer.from(row.key_wrapped), tenantKeyId: row.key_id,
    });
    const client = acmeClient(row.directory_url, key.toString("utf8"), row.account_url);
    return { client, wipe: () => key.fill(0) };
  }

  /**
   * Revokes an ACME certificate at its CA with the account that ordered it (RFC 8555 §7.6). A
   * certificate the CA already revoked counts as revoked; a deleted account (deactivated at the
   * CA, its key gone) can no longer ask, so the revocation stays local.
   */
  async revokeCertificate(cert: CertRow, reason: string): Promise<void> {
    const row = await this.deps.db.get<AccountRow>("SELECT * FROM acme_accounts WHERE tenant_id = ? AND id = ?", [cert.tenant_id, cert.ca_id]);
    if (!row) return;
    const { client, wipe } = await this.client(row);
    try {
      await acmeExchange(() => client.revokeCertificate(cert.certificate_pem, { reason: REVOCATION_REASONS[reason] ?? 0 }));
    } catch (error) {
      if (problemOf(error).type === "urn:ietf:params:acme:error:alreadyRevoked") return;
      throw acmeError(error, "revoking the certificate");
    } finally {
      wipe();
    }
  }

  /** Deactivates the account at its CA (RFC 8555 §7.3.6), then forgets it and its key. */
  async delete(caller: Caller, id: string): Promise<void> {
    const row = await this.require(caller.tenant.tenantId, id);
    caller.ctx.audit.extra = { account_id: id };
    const { client, wipe } = await this.client(row);
    try {
      await acmeExchange(() => client.updateAccount({ status: "deactivated" } as never));
    } catch (error) {
      throw acmeError(error, "deactivating the account");
    } finally {
      wipe();
    }
    await this.deps.secrets.mutate(caller, () => 204, async (tx) => {
      await tx.run("DELETE FROM acme_accounts WHERE tenant_id = ? AND id = ?", [caller.tenant.tenantId, id]);
    });
  }
}
