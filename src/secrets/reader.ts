import type { Authorizer, Evaluator } from "../access/authorizer.js";
import { denial } from "../access/authorizer.js";
import type { Keyring } from "../crypto/keyring.js";
import type { Caller } from "../http/context.js";
import { VaultError, isVaultError } from "../http/errors.js";
import { decodeCursor, encodeCursor } from "../shared/cursor.js";
import { requireDuration } from "../shared/duration.js";
import { iso, isoOrNull } from "../shared/time.js";
import { boundedScan } from "../storage/bounded-page.js";
import { SecretHeadCache, type SecretHead } from "./head-cache.js";
import { pathProblem, requireValidPath } from "./paths.js";
import type { BatchReadBody, BatchReadResponse, ExpiringQuery, ListSecretsQuery, SecretObject, SecretVersionsResponse } from "./schemas.js";
import { notFound } from "./service.js";
import { prefixEnd, type SecretRow, type SecretStore, type VersionRow } from "./store.js";
import { listItemView, metadataView, secretView, versionState, type RotationBlock } from "./view.js";

const ACCESS_TOUCH_WINDOW_MS = 60_000;
const PREFIX_CHARS = /^[a-z0-9\-_./]*$/;

export interface ReaderDeps {
  store: SecretStore;
  keyring: Keyring;
  authorizer: Authorizer;
  /** Fills the `rotation` block (src/rotation); absent, the block is null. */
  rotation?: { blockFor(row: SecretRow): Promise<RotationBlock | null> };
}

/** Reads: policy first, then existence, so a caller learns nothing about paths it may not read. */
export class SecretsReader {
  private readonly heads = new SecretHeadCache();

  constructor(private readonly deps: ReaderDeps) {}

  /** The secret with the wanted version (current when null): from the head cache while the tenant's secret epoch stands still. */
  private async head(tenantId: string, path: string, version: number | null): Promise<SecretHead | undefined> {
    const epoch = await this.deps.store.cacheEpoch(tenantId);
    const cached = this.heads.get(tenantId, path, version, epoch);
    if (cached) return cached;
    const head = await this.deps.store.getWithVersion(tenantId, path, version);
    if (head) this.heads.set(tenantId, path, version, epoch, head);
    return head;
  }

  async read(caller: Caller, rawPath: string, version: number | "previous" | undefined): Promise<SecretObject> {
    const path = requireValidPath(rawPath);
    caller.ctx.audit.secretPath = path;
    await this.deps.authorizer.require(caller, path, "read");
    const secret = await this.readAllowed(caller, path, version);
    caller.ctx.audit.extra = { version: secret.version, secret_type: secret.secret_type };
    caller.ctx.typesReturned = [secret.secret_type];
    return secret;
  }

  /** The read itself, once policy has allowed it. */
  private async readAllowed(caller: Caller, path: string, version: number | "previous" | undefined): Promise<SecretObject> {
    const { tenantId } = caller.tenant;
    const wantedVersion = typeof version === "number" ? version : null;
    const head = await this.head(tenantId, path, wantedVersion);
    const now = Date.now();
    if (!head || head.secret.deleted_at !== null) throw notFound(path, head?.secret, now);
    let { secret, version: row } = head;
    if (secret.expires_at !== null && secret.expires_at <= now) {
      throw new VaultError("secret_expired", "The secret has expired", { details: { path, expires_at: iso(secret.expires_at) } });
    }
    if (version === "previous") {
      if (secret.current_version < 2) throw new VaultError("version_not_found", "The secret has no previous version", { details: { path, version: "previous" } });
      row = (await this.head(tenantId, path, secret.current_version - 1))?.version ?? null;
    }
    const wanted = version === "previous" ? secret.current_version - 1 : version ?? secret.current_version;
    if (!row) throw new VaultError("version_not_found", `Version ${wanted} does not exist or has aged out`, { details: { path, version: wanted } });
    if (row.destroyed_at !== null || !row.ciphertext || !row.wrapped_key || !row.key_id) {
      throw new VaultError("version_destroyed", `Version ${row.version} was destroyed`, { details: { path, version: row.version } });
    }
    if (row.grace_until !== null && row.grace_until <= now) {
      throw new VaultError("version_expired", `Version ${row.version} was replaced by a rotation and its grace period has ended`, {
        details: { path, version: row.version, grace_period_ended: iso(row.grace_until) },
      });
    }
    const plaintext = await this.deps.keyring.decryptSecret(
      { tenantId, path, version: row.version },
      { ciphertext: row.ciphertext, wrappedDataKey: row.wrapped_key, tenantKeyId: row.key_id },
    );
    if (secret.last_accessed_at === null || secret.last_accessed_at < now - ACCESS_TOUCH_WINDOW_MS) {
      await this.deps.store.touchAccess(tenantId, path, now, ACCESS_TOUCH_WINDOW_MS);
      secret = { ...secret, last_accessed_at: now };
      // The touch does not move the cache epoch: the cached copy learns it here, or every read
      // after the first minute would touch again.
      head.secret = secret;
    }
    const rotation = await this.deps.rotation?.blockFor(secret);
    return { ...secretView(secret, row, rotation), data: JSON.parse(plaintext.toString("utf8")) as Record<string, unknown> };
  }

  async metadata(caller: Caller, rawPath: string) {
    const secret = await this.requireListable(caller, rawPath);
    return metadataView(secret, await this.deps.store.countVersions(secret.tenant_id, secret.path), await this.deps.rotation?.blockFor(secret));
  }

  async versions(caller: Caller, rawPath: string): Promise<SecretVersionsResponse> {
    const secret = await this.requireListable(caller, rawPath);
    const now = Date.now();
    const versions = await this.deps.store.versions(secret.tenant_id, secret.path);
    return {
      path: secret.path,
      current_version: secret.current_version,
      versions: versions.map((v: VersionRow) => ({
        version: v.version,
        state: versionState(secret, v, now),
        secret_type: v.secret_type,
        created_at: iso(v.created_at),
        created_by: v.created_by,
        destroyed_at: isoOrNull(v.destroyed_at),
        grace_period_ends: isoOrNull(v.grace_until),
      })),
    };
  }

  private async requireListable(caller: Caller, rawPath: string): Promise<SecretRow> {
    const path = requireValidPath(rawPath);
    caller.ctx.audit.secretPath = path;
    await this.deps.authorizer.require(caller, path, "list");
    const secret = await this.deps.store.get(caller.tenant.tenantId, path);
    if (!secret || secret.deleted_at !== null) throw notFound(path, secret, Date.now());
    return secret;
  }

  async list(caller: Caller, query: ListSecretsQuery) {
    const prefix = query.prefix ?? "";
    if (!PREFIX_CHARS.test(prefix)) {
      throw new VaultError("validation_error", "Invalid prefix", { details: { fields: { prefix: "may use a-z 0-9 - _ . / only" } } });
    }
    caller.ctx.audit.secretPath = prefix || null;
    const limit = query.limit ?? 100;
    const after = decodeCursor<{ p: string }>(query.cursor, { p: "string" });
    const allowed = await this.deps.authorizer.forCaller(caller);
    // A `?tag=` walk gets metadata only where its text holds the tag as a JSON string (`page`), else
    // `{}`: metadata may be 16 KB, and a tag that matched nothing parsed every row of the bounded
    // scan (20,000 rows: 4.5–7 s per request, the loop held ~0.5 s at a time).
    const tag = query.tag ?? null;
    const ranges = listRanges(await this.deps.authorizer.grantPrefixes(caller, "list"), prefix);
    // Only the ranges the caller's policies reach are read, in path order; inside them rows the
    // caller may not list are skipped, never counted: the page is filled from further on, up to a
    // bounded number of rows looked at (a caller whose grants start with a wildcard gets short pages).
    const page = await boundedScan(
      async (from: string | null, n) => {
        const rows: SecretRow[] = [];
        for (const range of ranges) {
          if (from !== null && from >= prefixEnd(range)) continue;
          rows.push(...(await this.deps.store.page(caller.tenant.tenantId, range, from, n - rows.length, tag === null ? null : JSON.stringify(tag))));
          if (rows.length === n) break;
        }
        return rows;
      },
      (row) => row.path,
      (row) => allowed(row.path, "list").allowed && (tag === null || ((JSON.parse(row.metadata) as { tags?: string[] }).tags?.includes(tag) ?? false)),
      after?.p ?? null,
      limit,
    );
    return { data: page.rows.map(listItemView), cursor: page.next === null ? null : encodeCursor({ p: page.next }), has_more: page.next !== null };
  }

  async expiring(caller: Caller, query: ExpiringQuery) {
    const withinSeconds = requireDuration("within", query.within ?? "30d");
    const limit = query.limit ?? 100;
    const after = decodeCursor<{ e: number; p: string }>(query.cursor, { e: "number", p: "string" });
    const allowed = await this.deps.authorizer.forCaller(caller);
    const now = Date.now();
    const until = now + withinSeconds * 1000;
    const page = await boundedScan(
      (from: { expiresAt: number; path: string } | null, n) => this.deps.store.expiring(caller.tenant.tenantId, until, from, n),
      (row) => ({ expiresAt: row.expires_at as number, path: row.path }),
      (row) => allowed(row.path, "list").allowed,
      after ? { expiresAt: after.e, path: after.p } : null,
      limit,
    );
    return {
      data: page.rows.map((row) => ({ ...listItemView(row), expired: (row.expires_at as number) <= now })),
      cursor: page.next === null ? null : encodeCursor({ e: page.next.expiresAt, p: page.next.path }),
      has_more: page.next !== null,
    };
  }

  /** Policy per path; with `fail_fast` the first error answers for the whole batch. */
  async batchRead(caller: Caller, body: BatchReadBody): Promise<BatchReadResponse> {
    const options = body.options ?? {};
    const allowed: Evaluator = await this.deps.authorizer.forCaller(caller);
    const result: BatchReadResponse = { secrets: {}, errors: {} };
    const types: string[] = [];
    for (const path of [...new Set(body.paths)]) {
      try {
        const problem = pathProblem(path);
        if (problem) throw new VaultError("invalid_path", `Invalid secret path: ${problem}`);
        const decision = allowed(path, "read");
        if (!decision.allowed) throw denial(decision, "read");
        const secret = await this.readAllowed(caller, path, options.version);
        types.push(secret.secret_type);
        result.secrets[path] = options.include_metadata
          ? secret
          : { data: secret.data, version: secret.version, secret_type: secret.secret_type };
      } catch (error) {
        if (!isVaultError(error) || error.status >= 500) throw error;
        if (options.fail_fast) throw new VaultError(error.code, error.message, { details: { ...error.details, path } });
        result.errors[path] = { code: error.code, message: error.message };
      }
    }
    caller.ctx.audit.extra = { paths: Object.keys(result.secrets), denied_or_failed: Object.keys(result.errors) };
    caller.ctx.typesReturned = types;
    return result;
  }
}

/** Ranges one list reads one by one at most; beyond, it reads the prefix whole (bounded as any walk). */
const MAX_LIST_RANGES = 64;

/**
 * The path ranges (as prefixes, in path order) a list under `prefix` must read, given where the
 * caller's list grants begin (Authorizer.grantPrefixes): the request's own prefix when one grant
 * covers it, else the grants inside it; none when they do not meet. A caller holding more than
 * MAX_LIST_RANGES grants there reads the prefix whole: each range costs a statement per step,
 * which SQLite runs without yielding.
 */
export function listRanges(grants: readonly string[], prefix: string): string[] {
  if (grants.some((grant) => prefix.startsWith(grant))) return [prefix];
  const inside = grants.filter((grant) => grant.startsWith(prefix));
  return inside.length > MAX_LIST_RANGES ? [prefix] : inside;
}
