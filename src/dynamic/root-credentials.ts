import type { Authorizer } from "../access/authorizer.js";
import type { AuditRecorder } from "../audit/recorder.js";
import type { Caller } from "../http/context.js";
import { isVaultError, VaultError } from "../http/errors.js";
import { systemCaller } from "../rotation/actor.js";
import type { SecretsReader } from "../secrets/reader.js";
import type { EngineRow } from "./store.js";
import type { DatabaseConfig } from "./config.js";

export interface RootCredentials {
  username: string;
  password: string;
  /** The secret version they came from (rotation writes the next one). */
  version: number;
  /** The whole secret (other fields are kept when rotation writes the next version). */
  data: Record<string, unknown>;
}

/** When the engine's own read fails: at create/PATCH a 400 about the config, later a 502. */
export type ReadMoment = "configure" | "use";

/** The identity an engine acts as (contract D2): a system identity named after the engine. */
export const engineIdentity = (name: string) => `dynamic:${name}`;

/** A caller for work the engine does as itself, whose audit entry the request pipeline does not write. */
export function engineCaller(engine: Pick<EngineRow, "name" | "tenant_id" | "partner_id">, action: string, path: string | null): Caller {
  const caller = systemCaller(engineIdentity(engine.name), engine.tenant_id, engine.partner_id);
  caller.ctx.audit = { action, secretPath: path, extra: { engine: engine.name }, recorded: false };
  return caller;
}

/**
 * Reads an engine's root credentials as `dynamic:<engine>` through the ordinary policy check and
 * secret reader; each attempt, allowed or denied, is audited as a `read` by that identity.
 */
export class RootCredentialReader {
  constructor(private readonly deps: { reader: SecretsReader; audit: AuditRecorder; authorizer: Authorizer }) {}

  async read(engine: Pick<EngineRow, "name" | "tenant_id" | "partner_id">, config: DatabaseConfig, moment: ReadMoment): Promise<RootCredentials> {
    const path = config.root_credentials_path;
    const caller = engineCaller(engine, "read", path);
    let status = 200;
    try {
      const secret = await this.deps.reader.read(caller, path, undefined);
      const { username, password } = secret.data as { username?: unknown; password?: unknown };
      if (typeof username !== "string" || typeof password !== "string" || username === "" || password === "") {
        throw failure(moment, "root_credentials_missing", "The root credentials secret must hold string fields username and password");
      }
      caller.ctx.audit.extra = { engine: engine.name, version: secret.version };
      return { username, password, version: secret.version, data: secret.data ?? {} };
    } catch (error) {
      if (!isVaultError(error)) {
        status = 500;
        throw error;
      }
      status = error.status;
      caller.ctx.errorCode = error.code;
      if (error.code === "access_denied" || error.status === 403) throw failure(moment, "root_credentials_denied", `No policy lets ${engineIdentity(engine.name)} read its root credentials at ${path}`);
      if (error.code === "secret_not_found" || error.status === 410 || error.code === "version_not_found") throw failure(moment, "root_credentials_missing", `The root credentials at ${path} cannot be read (${error.code})`);
      throw error;
    } finally {
      await this.deps.audit.recordRequest(caller.ctx, status);
    }
  }

  /** The caller's own `read` on a root-credential path: nobody may point an engine at a secret they cannot read. */
  async requireCallerRead(caller: Caller, path: string): Promise<void> {
    const decision = await this.deps.authorizer.decide(caller, path, "read");
    if (!decision.allowed) {
      throw new VaultError("access_denied", "Configuring an engine's connection or root credentials needs your own read permission on that root secret", {
        details: { reason: "grant_exceeds_caller", permission: "read", path },
      });
    }
  }
}

function failure(moment: ReadMoment, reason: string, message: string): VaultError {
  return moment === "configure"
    ? new VaultError("invalid_config", message, { details: { reason } })
    : new VaultError("backend_error", message, { details: { reason } });
}

/** `{{username}}`/`{{password}}` in the connection URL, URL-encoded. The result holds a password: never log it. */
export function fillUrl(template: string, creds: { username: string; password: string }): string {
  return template.replace(/\{\{\s*username\s*\}\}/g, encodeURIComponent(creds.username)).replace(/\{\{\s*password\s*\}\}/g, encodeURIComponent(creds.password));
}
