import type { Authorizer } from "../access/authorizer.js";
import type { Caller } from "../http/context.js";
import { VaultError } from "../http/errors.js";
import type { SecretsService } from "../secrets/service.js";
import type { SecretStore } from "../secrets/store.js";
import { iso } from "../shared/time.js";
import { eventBase } from "./change.js";
import { durationOf } from "./config.js";
import type { Connector } from "./connector.js";
import { newPassword } from "./credentials.js";
import { configOf } from "./engines.js";
import { engineCaller, fillUrl } from "./root-credentials.js";
import type { DynamicStore, EngineRow } from "./store.js";

export interface RotatorDeps {
  store: DynamicStore;
  connector: Connector;
  authorizer: Authorizer;
  secrets: SecretsService;
  secretStore: SecretStore;
}

/**
 * Root credential rotation (contract D2): a new password at the source, then a new version of the
 * root secret written as `dynamic:<engine>`. If the write fails after the source changed, the old
 * password is set back (best-effort) so the engine keeps working with what the vault holds.
 */
export class RootRotator {
  constructor(private readonly deps: RotatorDeps) {}

  async rotate(engine: EngineRow, actor: Caller | null) {
    if (engine.engine_type !== "database") throw new VaultError("validation_error", "Only database engines have root credentials", { details: { fields: { engine: "is an ssh engine" } } });
    const config = configOf(engine);
    const path = config.root_credentials_path;
    const writer = engineCaller(engine, "rotate", path);
    const may = await this.deps.authorizer.forCaller(writer);
    if (!may(path, "rotate").allowed && !may(path, "write").allowed) {
      throw new VaultError("invalid_config", `No policy lets ${writer.principal.identityId} rotate or write its root credentials at ${path}`, { details: { reason: "root_credentials_denied" } });
    }
    const password = newPassword();
    const old = await this.deps.connector.with(engine, config, "use", async ({ plugin, target, root }) => {
      await plugin.rotateRoot(target, root.username, password);
      return root;
    });
    const now = Date.now();
    let version: number;
    try {
      version = await this.deps.secrets.mutate(writer, () => 200, async (tx, emit) => {
        const existing = await this.deps.secretStore.lock(tx, engine.tenant_id, path);
        if (!existing || existing.deleted_at !== null) throw new VaultError("secret_not_found", "The root credentials secret is gone", { details: { path } });
        writer.ctx.audit.extra = { engine: engine.name, version: existing.current_version + 1 };
        const row = await this.deps.secrets.appendVersion(tx, writer, existing, { ...old.data, username: old.username, password }, emit, true);
        await emit({ ...(actor ? eventBase(actor) : eventBase(writer)), event_type: "engine.root_rotated", data: { engine: engine.name, version: row.current_version, rotated_at: iso(now) } });
        const next = config.root_rotation_interval ? now + durationOf("root_rotation_interval", config.root_rotation_interval) * 1000 : null;
        await tx.run("UPDATE dynamic_engines SET last_root_rotation_at = ?, next_root_rotation_at = ? WHERE id = ?", [now, next, engine.id]);
        return row.current_version;
      });
    } catch (error) {
      await this.deps.connector.with(engine, config, "use", async ({ plugin, target }) => {
        const previous = { ...target, url: fillUrl(config.connection_url, { username: old.username, password }) };
        await plugin.rotateRoot(previous, old.username, old.password);
      }).catch(() => undefined);
      throw error;
    }
    return { engine: engine.name, rotated_at: iso(now), version };
  }

  /** A scheduled rotation, claimed so one node does it; a failure is tried again at the next interval. */
  async scheduled(engine: EngineRow): Promise<void> {
    const config = configOf(engine);
    if (engine.next_root_rotation_at === null) return;
    const interval = config.root_rotation_interval ? durationOf("root_rotation_interval", config.root_rotation_interval) * 1000 : null;
    const next = interval ? Date.now() + interval : null;
    if (!(await this.deps.store.claimRootRotation(engine.id, engine.next_root_rotation_at, next ?? Number.MAX_SAFE_INTEGER))) return;
    await this.rotate(engine, null);
  }
}
