import type { Authorizer } from "../access/authorizer.js";
import type { AuditRecorder } from "../audit/recorder.js";
import type { Keyring } from "../crypto/keyring.js";
import type { Emit, EventOutbox, NewEvent, VaultEvent } from "../events/outbox.js";
import type { Caller } from "../http/context.js";
import { VaultError } from "../http/errors.js";
import { requireDuration, requireDurationList } from "../shared/duration.js";
import { iso } from "../shared/time.js";
import type { Database, Queryable } from "../storage/contract.js";
import { isUniqueViolation, isTransactionConflict } from "../storage/contract.js";
import { requireValidPath } from "./paths.js";
import { SECRET_TYPES, type PatchMetadataBody, type SecretObject, type WriteSecretBody } from "./schemas.js";
import type { SecretRow, SecretStore, VersionRow } from "./store.js";
import { metadataView, normalizeMetadata, parseMetadata, secretView, type RotationBlock } from "./view.js";

export const SOFT_DELETE_RETENTION_MS = 30 * 86_400_000;
const MAX_EXPIRES_IN_SECONDS = 36_500 * 86_400;

export interface SecretsDeps {
  db: Database;
  store: SecretStore;
  keyring: Keyring;
  authorizer: Authorizer;
  audit: AuditRecorder;
  events: EventOutbox;
  maxSecretBytes: number;
  /** Extensions that take part in a write's transaction (rotation completes a due rotation here). */
  writeHooks?: SecretWriteHook[];
  /**
   * Fills the `rotation` block of answers (src/rotation). Set after construction in the composition
   * root, because the rotation domain is itself built on this service.
   */
  rotation?: { blockFor(row: SecretRow): Promise<RotationBlock | null> };
}

export interface WrittenVersion {
  caller: Caller;
  secret: SecretRow;
  oldVersion: number | null;
  newVersion: number;
  /** The secret policy link before this write (null for a new secret). */
  previousSecretPolicyId?: string | null;
}

export interface SecretWriteHook {
  /** Runs inside the write's transaction, before the write's own events; may emit more. */
  afterWrite(tx: Queryable, written: WrittenVersion, emit: (event: NewEvent) => Promise<void>): Promise<{ isRotation?: boolean } | void>;
  /** PATCH …/metadata (no new version): the same link checks and schedule upkeep as a write (issue 13). */
  afterMetadataPatch?(tx: Queryable, secret: SecretRow, previous: SecretRow): Promise<void>;
  /** Before a write takes the secret's row lock: may queue reads `afterWrite` makes to travel with it (`Queryable.alongFirst`). */
  beforeLock?(tx: Queryable, tenantId: string, path: string): void;
}

export type { Emit } from "../events/outbox.js";

export function requireSecretType(value: string | undefined): string | undefined {
  if (value !== undefined && !(SECRET_TYPES as readonly string[]).includes(value)) {
    throw new VaultError("invalid_secret_type", `secret_type must be one of ${SECRET_TYPES.join(", ")}`);
  }
  return value;
}

// Metadata is stored and listed in plaintext with every item: a list of 1000 must stay small.
const MAX_METADATA_BYTES = 16 * 1024;

function checkMetadataSize(metadata: unknown): void {
  if (metadata !== undefined && Buffer.byteLength(JSON.stringify(metadata), "utf8") > MAX_METADATA_BYTES) {
    throw new VaultError("validation_error", `metadata is limited to ${MAX_METADATA_BYTES} bytes as JSON`, { details: { fields: { metadata: `must be at most ${MAX_METADATA_BYTES} bytes as JSON` } } });
  }
}

/** `null` clears a duration option; any string, the empty one included, must parse. */
function checkDurations(options: { expires_in?: string | null; notify_before?: string | null }): void {
  // Beyond a century an expiry is meaningless, and far enough out it no longer fits a date.
  if (typeof options.expires_in === "string" && requireDuration("options.expires_in", options.expires_in) > MAX_EXPIRES_IN_SECONDS) {
    throw new VaultError("invalid_duration", "options.expires_in may be at most 36500d", { details: { field: "options.expires_in" } });
  }
  if (typeof options.notify_before === "string") requireDurationList("options.notify_before", options.notify_before);
}

/** Secret writes: every one appends a version, and commits with its audit entry and events. */
export class SecretsService {
  private turn: (() => void)[] | null = null;

  constructor(private readonly deps: SecretsDeps) {}

  /**
   * SQLite: resolves on the next turn of the event loop, together with every other write that
   * arrived in this one, so that all of their transactions are queued in one synchronous run and
   * the adapter commits them as one group. Without it each write is queued alone (better-sqlite3
   * finishes a transaction within the microtasks of the request that started it) and pays its own
   * COMMIT. PostgreSQL transactions run concurrently on the pool: no wait.
   */
  private joinTurn(): Promise<void> | null {
    if (this.deps.db.dialect !== "sqlite") return null;
    return new Promise<void>((resolve) => {
      if (this.turn) {
        this.turn.push(resolve);
        return;
      }
      const turn = [resolve];
      this.turn = turn;
      setImmediate(() => {
        this.turn = null;
        for (const start of turn) start();
      });
    });
  }

  /** Runs `work` in a transaction with its audit entry; events are published after the commit. */
  async mutate<T>(caller: Caller, statusOf: (result: T) => number, work: (tx: Queryable, emit: Emit) => Promise<T>): Promise<T> {
    const turn = this.joinTurn();
    if (turn) await turn;
    for (let attempt = 0; ; attempt++) {
      const events: VaultEvent[] = [];
      try {
        const result = await this.deps.db.transaction(async (tx) => {
          const value = await work(tx, this.deps.events.emitter(tx, events));
          await this.deps.audit.recordInTransaction(tx, caller, statusOf(value), { last: true });
          return value;
        });
        this.deps.events.published(events);
        return result;
      } catch (error) {
        // Two nodes creating the same path at once: the loser retries and sees the winner's row.
        // A deadlock (PostgreSQL aborts one side of it): a new secret's row waited for by a write
        // that holds an audit lane, while its creator waits for a lane (`lockChainAhead`).
        if (!(isUniqueViolation(error) || isTransactionConflict(error)) || attempt >= 2) throw error;
      }
    }
  }

  eventBase(caller: Caller, path: string | null): Pick<NewEvent, "tenant_id" | "partner_id" | "identity_id" | "path" | "request_id"> {
    return { tenant_id: caller.tenant.tenantId, partner_id: caller.tenant.partnerId, identity_id: caller.principal.identityId, path, request_id: caller.requestId };
  }

  async write(caller: Caller, rawPath: string, body: WriteSecretBody, ifMatch: number | undefined): Promise<{ created: boolean; secret: SecretObject }> {
    const path = requireValidPath(rawPath);
    const secretType = requireSecretType(body.secret_type);
    const options = body.options ?? {};
    const expiresIn = options.expires_in;
    checkDurations(options);
    checkMetadataSize(body.metadata);
    const plaintext = Buffer.from(JSON.stringify(body.data), "utf8");
    if (plaintext.length > this.deps.maxSecretBytes) {
      throw new VaultError("payload_too_large", `Secret data is limited to ${this.deps.maxSecretBytes} bytes`, { details: { limit_bytes: this.deps.maxSecretBytes } });
    }
    if (options.cas !== undefined && ifMatch !== undefined && options.cas !== ifMatch) {
      throw new VaultError("validation_error", "If-Match and options.cas name different versions", { details: { fields: { "If-Match": "disagrees with options.cas" } } });
    }
    const cas = options.cas ?? ifMatch;
    caller.ctx.audit.secretPath = path;
    await this.deps.authorizer.require(caller, path, "write");

    const written = await this.mutate<{ created: boolean; secret: SecretObject; row: SecretRow }>(caller, (r) => (r.created ? 201 : 200), async (tx, emit) => {
      const now = Date.now();
      const { tenantId, partnerId } = caller.tenant;
      for (const hook of this.deps.writeHooks ?? []) hook.beforeLock?.(tx, tenantId, path);
      // The secret's row lock is this write's first and only row lock: its audit lane travels with it.
      this.deps.audit.lockChainAhead(tx, caller);
      let existing = await this.deps.store.lock(tx, tenantId, path);
      if (existing?.deleted_at != null) {
        if ((existing.recoverable_until ?? 0) > now) {
          throw new VaultError("secret_exists", "A deleted secret is still recoverable at this path: undelete it or delete it permanently first", {
            details: { recoverable_until: iso(existing.recoverable_until ?? now) },
          });
        }
        await this.deps.store.purge(tx, tenantId, path);
        existing = undefined;
      }
      const currentVersion = existing?.current_version ?? 0;
      if (cas !== undefined && cas !== currentVersion) {
        throw new VaultError("version_conflict", `The current version is ${currentVersion}, not ${cas}`, { details: { current_version: currentVersion } });
      }
      const version = currentVersion + 1;
      const keptExpiresIn = expiresIn !== undefined ? expiresIn : existing?.expires_in ?? null;
      const row: SecretRow = {
        tenant_id: tenantId,
        path,
        partner_id: partnerId,
        secret_type: secretType ?? existing?.secret_type ?? "kv",
        metadata: JSON.stringify(body.metadata ? normalizeMetadata(body.metadata) : normalizeMetadata(undefined, existing ? parseMetadata(existing.metadata) : undefined)),
        max_versions: options.max_versions ?? existing?.max_versions ?? 10,
        expires_in: keptExpiresIn,
        expires_at: keptExpiresIn ? now + requireDuration("options.expires_in", keptExpiresIn) * 1000 : null,
        notify_before: options.notify_before !== undefined ? options.notify_before : existing?.notify_before ?? null,
        rotation_policy_id: options.rotation_policy_id !== undefined ? options.rotation_policy_id : existing?.rotation_policy_id ?? null,
        secret_policy_id: options.secret_policy_id !== undefined ? options.secret_policy_id : existing?.secret_policy_id ?? null,
        current_version: version,
        created_at: existing?.created_at ?? now,
        created_by: existing?.created_by ?? caller.principal.identityId,
        updated_at: now,
        last_accessed_at: existing?.last_accessed_at ?? null,
        deleted_at: null,
        recoverable_until: null,
      };
      const sealed = await this.sealVersion(tx, row, plaintext, caller.principal.identityId, now, existing ? { keyId: existing.tenant_key_id } : null);
      if (existing) await this.deps.store.replaceCurrentVersion(tx, sealed, row, version - row.max_versions + 1);
      else {
        await this.deps.store.insertVersion(tx, sealed);
        await this.deps.store.insert(tx, row);
        await this.deps.store.pruneVersionsBelow(tx, tenantId, path, version - row.max_versions + 1);
      }

      let isRotation = false;
      for (const hook of this.deps.writeHooks ?? []) {
        const outcome = await hook.afterWrite(tx, { caller, secret: row, oldVersion: existing ? currentVersion : null, newVersion: version, previousSecretPolicyId: existing?.secret_policy_id ?? null }, emit);
        if (outcome?.isRotation) isRotation = true;
      }
      const metadata = parseMetadata(row.metadata);
      await emit(
        existing
          ? { ...this.eventBase(caller, path), event_type: "secret.updated", data: { version, secret_type: row.secret_type, old_version: currentVersion, new_version: version, updated_by: caller.principal.identityId, is_rotation: isRotation } }
          : { ...this.eventBase(caller, path), event_type: "secret.created", data: { version, secret_type: row.secret_type, created_by: caller.principal.identityId, tags: metadata.tags, expires_at: row.expires_at ? iso(row.expires_at) : null } },
      );
      caller.ctx.audit.extra = { version };
      return { created: !existing, secret: secretView(row), row };
    });
    return { created: written.created, secret: await this.withRotation(written.row, written.secret) };
  }

  /** The answer with its rotation block, read after the commit (the write may have moved the schedule). */
  private async withRotation<T extends { rotation: RotationBlock | null }>(row: SecretRow, view: T): Promise<T> {
    if (!row.rotation_policy_id || !this.deps.rotation) return view;
    return { ...view, rotation: await this.deps.rotation.blockFor(row) };
  }

  /**
   * A version the vault writes itself (auto-generated rotation), in the caller's transaction with
   * the secret row already locked: same encryption, expiry renewal, pruning and `secret.updated`.
   */
  async appendVersion(tx: Queryable, caller: Caller, existing: SecretRow & { tenant_key_id?: string | null }, data: Record<string, unknown>, emit: Emit, isRotation: boolean): Promise<SecretRow> {
    const plaintext = Buffer.from(JSON.stringify(data), "utf8");
    if (plaintext.length > this.deps.maxSecretBytes) {
      throw new VaultError("payload_too_large", `Secret data is limited to ${this.deps.maxSecretBytes} bytes`, { details: { limit_bytes: this.deps.maxSecretBytes } });
    }
    const now = Date.now();
    const version = existing.current_version + 1;
    const expiresAt = existing.expires_in ? now + requireDuration("options.expires_in", existing.expires_in) * 1000 : existing.expires_at;
    const { tenant_key_id: keyId, ...current } = existing;
    const row: SecretRow = { ...current, current_version: version, expires_at: expiresAt, updated_at: now };
    const sealed = await this.sealVersion(tx, row, plaintext, caller.principal.identityId, now, { keyId: keyId ?? null });
    await this.deps.store.replaceCurrentVersion(tx, sealed, row, version - row.max_versions + 1);
    await emit({
      ...this.eventBase(caller, row.path),
      event_type: "secret.updated",
      data: { version, secret_type: row.secret_type, old_version: existing.current_version, new_version: version, updated_by: caller.principal.identityId, is_rotation: isRotation },
    });
    return row;
  }

  /**
   * Encrypts and inserts one version; the caller updates the secret row. A tenant that already
   * holds a secret has its key (keys are never deactivated), so only a new secret makes sure of it.
   */
  async storeVersion(tx: Queryable, row: SecretRow, plaintext: Buffer, createdBy: string, now: number, tenantHasSecret: boolean): Promise<void> {
    await this.deps.store.insertVersion(tx, await this.sealVersion(tx, row, plaintext, createdBy, now, tenantHasSecret ? { keyId: null } : null));
  }

  /**
   * The encrypted version row. `existingSecret`: the tenant holds a secret, so it has its key, and
   * `keyId` names it when the caller read it with the secret's row (`SecretStore.lock`).
   */
  private async sealVersion(tx: Queryable, row: SecretRow, plaintext: Buffer, createdBy: string, now: number, existingSecret: { keyId: string | null } | null): Promise<VersionRow> {
    if (!existingSecret) await this.deps.keyring.ensureTenantKey(row.tenant_id, row.partner_id, tx);
    const address = { tenantId: row.tenant_id, path: row.path, version: row.current_version };
    const sealed = await this.deps.keyring.encryptSecret(address, plaintext, tx, existingSecret?.keyId ?? undefined);
    return {
      tenant_id: row.tenant_id,
      path: row.path,
      version: row.current_version,
      secret_type: row.secret_type,
      ciphertext: sealed.ciphertext,
      wrapped_key: sealed.wrappedDataKey,
      key_id: sealed.tenantKeyId,
      created_at: now,
      created_by: createdBy,
      destroyed_at: null,
      grace_until: null,
    };
  }

  async patchMetadata(caller: Caller, rawPath: string, body: PatchMetadataBody) {
    const path = requireValidPath(rawPath);
    const secretType = requireSecretType(body.secret_type);
    const options = body.options ?? {};
    checkDurations(options);
    checkMetadataSize(body.metadata);
    caller.ctx.audit.secretPath = path;
    await this.deps.authorizer.require(caller, path, "write");
    const patched = await this.mutate(caller, () => 200, async (tx, emit) => {
      const existing = await this.requireLive(tx, caller, path);
      const now = Date.now();
      const row: SecretRow = {
        ...existing,
        secret_type: secretType ?? existing.secret_type,
        metadata: JSON.stringify(normalizeMetadata(body.metadata, parseMetadata(existing.metadata))),
        max_versions: options.max_versions ?? existing.max_versions,
        expires_in: options.expires_in !== undefined ? options.expires_in : existing.expires_in,
        expires_at: options.expires_in !== undefined ? (options.expires_in ? now + requireDuration("options.expires_in", options.expires_in) * 1000 : null) : existing.expires_at,
        notify_before: options.notify_before !== undefined ? options.notify_before : existing.notify_before,
        rotation_policy_id: options.rotation_policy_id !== undefined ? options.rotation_policy_id : existing.rotation_policy_id,
        secret_policy_id: options.secret_policy_id !== undefined ? options.secret_policy_id : existing.secret_policy_id,
        updated_at: now,
      };
      // Links to rotation and secret policies are checked as a PUT checks them, before anything is stored.
      for (const hook of this.deps.writeHooks ?? []) await hook.afterMetadataPatch?.(tx, row, existing);
      await this.deps.store.update(tx, row);
      await this.deps.store.pruneVersionsBelow(tx, row.tenant_id, path, row.current_version - row.max_versions + 1);
      await emit({ ...this.eventBase(caller, path), event_type: "secret.updated", data: { version: row.current_version, secret_type: row.secret_type, old_version: row.current_version, new_version: row.current_version, updated_by: caller.principal.identityId, is_rotation: false, metadata_only: true } });
      return { row, view: metadataView(row, await this.deps.store.countVersions(row.tenant_id, path, tx)) };
    });
    return this.withRotation(patched.row, patched.view);
  }

  async delete(caller: Caller, rawPath: string, permanent: boolean) {
    const path = requireValidPath(rawPath);
    caller.ctx.audit.secretPath = path;
    caller.ctx.audit.extra = { permanent };
    await this.deps.authorizer.require(caller, path, "delete");
    return this.mutate(caller, () => 200, async (tx, emit) => {
      const existing = await this.deps.store.lock(tx, caller.tenant.tenantId, path);
      const now = Date.now();
      const live = existing !== undefined && existing.deleted_at === null;
      const recoverable = existing !== undefined && existing.deleted_at !== null && (existing.recoverable_until ?? 0) > now;
      // Deleting a deleted secret again is a 404, except that a recoverable one may be purged for good.
      if (!existing || !(live || (permanent && recoverable))) throw notFound(path, existing, now);
      const versionCount = await this.deps.store.countVersions(existing.tenant_id, path, tx);
      let recoverableUntil: number | null = null;
      if (permanent) {
        await this.deps.store.purge(tx, existing.tenant_id, path);
      } else {
        recoverableUntil = now + SOFT_DELETE_RETENTION_MS;
        await this.deps.store.update(tx, { ...existing, deleted_at: now, recoverable_until: recoverableUntil, updated_at: now });
      }
      const data: Record<string, unknown> = { version: existing.current_version, secret_type: existing.secret_type, version_count: versionCount, deleted_by: caller.principal.identityId, permanent };
      if (!permanent) data.recoverable_until = iso(recoverableUntil as number);
      await emit({ ...this.eventBase(caller, path), event_type: "secret.deleted", data });
      return { path, deleted: true, permanent, recoverable_until: recoverableUntil === null ? null : iso(recoverableUntil), version_count: versionCount };
    });
  }

  async undelete(caller: Caller, rawPath: string) {
    const path = requireValidPath(rawPath);
    caller.ctx.audit.secretPath = path;
    await this.deps.authorizer.require(caller, path, "write");
    return this.mutate(caller, () => 200, async (tx, emit) => {
      const existing = await this.deps.store.lock(tx, caller.tenant.tenantId, path);
      const now = Date.now();
      if (!existing || (existing.deleted_at !== null && (existing.recoverable_until ?? 0) <= now)) throw notFound(path, undefined, now);
      if (existing.deleted_at === null) return secretView(existing);
      const row = { ...existing, deleted_at: null, recoverable_until: null, updated_at: now };
      await this.deps.store.update(tx, row);
      await emit({ ...this.eventBase(caller, path), event_type: "secret.updated", data: { version: row.current_version, secret_type: row.secret_type, old_version: row.current_version, new_version: row.current_version, updated_by: caller.principal.identityId, is_rotation: false, undeleted: true } });
      return secretView(row);
    });
  }

  async destroy(caller: Caller, rawPath: string, versions: number[]) {
    const path = requireValidPath(rawPath);
    caller.ctx.audit.secretPath = path;
    caller.ctx.audit.extra = { versions };
    await this.deps.authorizer.require(caller, path, "delete");
    return this.mutate(caller, () => 200, async (tx) => {
      const existing = await this.requireLive(tx, caller, path);
      const unknown = versions.filter((v) => v > existing.current_version);
      if (unknown.length > 0) throw new VaultError("version_not_found", `No version ${unknown[0]} exists`, { details: { path, versions: unknown } });
      const destroyed = await this.deps.store.destroyVersions(tx, existing.tenant_id, path, [...new Set(versions)], Date.now());
      return { path, destroyed, current_version: existing.current_version };
    });
  }

  private async requireLive(tx: Queryable, caller: Caller, path: string): Promise<SecretRow> {
    const existing = await this.deps.store.lock(tx, caller.tenant.tenantId, path);
    const now = Date.now();
    if (!existing || existing.deleted_at !== null) throw notFound(path, existing, now);
    return existing;
  }
}

/**
 * A missing secret, or a soft-deleted one that can still be recovered (said so in details).
 * `details.path` as the docs' Errors page shows it: the path the caller asked for (it already
 * passed the policy check, so naming it tells the caller nothing new).
 */
export function notFound(path: string, row: SecretRow | undefined, now: number): VaultError {
  if (row && row.deleted_at !== null && (row.recoverable_until ?? 0) > now) {
    return new VaultError("secret_not_found", "The secret is deleted", {
      details: { path, deleted: true, recoverable_until: iso(row.recoverable_until as number) },
    });
  }
  return new VaultError("secret_not_found", "No secret exists at this path", { details: { path } });
}
