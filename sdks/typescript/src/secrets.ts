import type { SecretCache } from "./cache.js";
import { ValidationError } from "./errors.js";
import type { Transport } from "./transport.js";
import type {
  BatchReadResponse,
  Page,
  Secret,
  SecretInfo,
  SecretListItem,
  SecretMetadataInput,
  SecretMetadataObject,
  SecretOptionsInput,
  SecretType,
  SecretVersions,
  WriteSecretBody,
} from "./types.js";

export interface WriteOptions {
  secretType?: SecretType;
  /** Replaces the secret's metadata (description, tags, owner, custom). */
  metadata?: SecretMetadataInput;
  /** The docs' spelling: merged into `metadata` (`tags`, `description`, `owner` at the top; anything else goes to `custom`). */
  customMetadata?: Record<string, unknown>;
  maxVersions?: number;
  expiresIn?: string | null;
  rotationPolicyId?: string | null;
  secretPolicyId?: string | null;
  notifyBefore?: string | null;
  /** Write only if the current version is this one (0: only if absent); makes the write safe to retry. */
  cas?: number;
}

/**
 * Percent-encoding is refused by the server, so a path is sent as is (surrounding slashes trimmed).
 * A `.`/`..` segment or a character URL parsing would rewrite is refused here: `new URL` would
 * otherwise resolve `a/../b` to `b` and read a different secret than the one named.
 */
export function secretPath(path: string): string {
  const trimmed = path.replace(/^\/+|\/+$/g, "");
  if (trimmed.split("/").some((segment) => segment === "." || segment === "..") || /[\s?#%\\]/.test(trimmed)) {
    throw new ValidationError({ code: "invalid_path", status: 400, message: "Invalid secret path: no ., .. segments, whitespace, ?, #, % or \\" });
  }
  return trimmed;
}

function metadataOf(options: WriteOptions): SecretMetadataInput | undefined {
  if (!options.metadata && !options.customMetadata) return undefined;
  const merged: SecretMetadataInput = { ...(options.metadata ?? {}) };
  const custom: Record<string, unknown> = { ...(options.metadata?.custom ?? {}) };
  for (const [key, value] of Object.entries(options.customMetadata ?? {})) {
    if (key === "tags") merged.tags = value as string[];
    else if (key === "description") merged.description = value as string | null;
    else if (key === "owner") merged.owner = value as string | null;
    else custom[key] = value;
  }
  if (Object.keys(custom).length) merged.custom = custom;
  return merged;
}

function optionsOf(options: WriteOptions, withCas: boolean): SecretOptionsInput | undefined {
  const out: SecretOptionsInput = {};
  if (options.maxVersions !== undefined) out.max_versions = options.maxVersions;
  if (options.expiresIn !== undefined) out.expires_in = options.expiresIn;
  if (options.rotationPolicyId !== undefined) out.rotation_policy_id = options.rotationPolicyId;
  if (options.secretPolicyId !== undefined) out.secret_policy_id = options.secretPolicyId;
  if (options.notifyBefore !== undefined) out.notify_before = options.notifyBefore;
  if (withCas && options.cas !== undefined) out.cas = options.cas;
  return Object.keys(out).length ? out : undefined;
}

export class SecretsResource {
  constructor(
    private readonly http: Transport,
    private readonly cache: SecretCache<Secret> | null,
  ) {}

  /** Reads a secret (with `data`); `version` is a number or `"previous"`. Served from the cache when enabled. */
  async read(path: string, options: { version?: number | "previous" } = {}): Promise<Secret> {
    const p = secretPath(path);
    const variant = options.version === undefined ? "" : String(options.version);
    const cached = this.cache?.get(p, variant);
    if (cached) return structuredClone(cached);
    const ticket = this.cache?.ticket(p);
    const secret = await this.http.request<Secret>({ method: "GET", path: `/v1/secrets/${p}`, query: { version: options.version } });
    if (this.cache && ticket !== undefined) this.cache.set(p, variant, structuredClone(secret), ticket);
    return secret;
  }

  /** Writes a new version; `data` is the whole value. Answers the object without `data`. */
  async write(path: string, data: Record<string, unknown>, options: WriteOptions = {}): Promise<SecretInfo> {
    const p = secretPath(path);
    const body: WriteSecretBody = { data };
    if (options.secretType !== undefined) body.secret_type = options.secretType;
    const metadata = metadataOf(options);
    if (metadata) body.metadata = metadata;
    const opts = optionsOf(options, true);
    if (opts) body.options = opts;
    try {
      return await this.http.request<SecretInfo>({ method: "PUT", path: `/v1/secrets/${p}`, body, idempotent: options.cas !== undefined });
    } finally {
      this.cache?.invalidate(p);
    }
  }

  /**
   * `update(path, data, opts)` writes a new version; `update(path, undefined, opts)` changes only
   * metadata and options (no new version), as the docs show.
   */
  async update(path: string, data: Record<string, unknown> | undefined, options: WriteOptions = {}): Promise<SecretInfo | SecretMetadataObject> {
    if (data !== undefined) return this.write(path, data, options);
    return this.updateMetadata(path, options);
  }

  async updateMetadata(path: string, options: WriteOptions): Promise<SecretMetadataObject> {
    const p = secretPath(path);
    const body: Record<string, unknown> = {};
    const metadata = metadataOf(options);
    if (metadata) body.metadata = metadata;
    const opts = optionsOf(options, false);
    if (opts) body.options = opts;
    if (options.secretType !== undefined) body.secret_type = options.secretType;
    try {
      return await this.http.request<SecretMetadataObject>({ method: "PATCH", path: `/v1/secrets/${p}/metadata`, body, idempotent: true });
    } finally {
      this.cache?.invalidate(p);
    }
  }

  readMetadata(path: string): Promise<SecretMetadataObject> {
    return this.http.request({ method: "GET", path: `/v1/secrets/${secretPath(path)}/metadata` });
  }

  async delete(path: string, options: { permanent?: boolean } = {}): Promise<Record<string, unknown>> {
    const p = secretPath(path);
    try {
      return await this.http.request({ method: "DELETE", path: `/v1/secrets/${p}`, query: { permanent: options.permanent ? true : undefined } });
    } finally {
      this.cache?.invalidate(p);
    }
  }

  async list(options: { prefix?: string; tag?: string; limit?: number; cursor?: string } = {}): Promise<Page<SecretListItem>> {
    const page = await this.http.request<{ data: SecretListItem[]; cursor: string | null; has_more: boolean }>({ method: "GET", path: "/v1/secrets", query: options });
    return { data: page.data, cursor: page.cursor, hasMore: page.has_more };
  }

  /** Every secret under the options' filters, following cursors. */
  async *listAll(options: { prefix?: string; tag?: string; limit?: number } = {}): AsyncGenerator<SecretListItem> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...options, cursor });
      yield* page.data;
      cursor = page.hasMore && page.cursor ? page.cursor : undefined;
    } while (cursor);
  }

  versions(path: string): Promise<SecretVersions> {
    return this.http.request({ method: "GET", path: `/v1/secrets/${secretPath(path)}/versions` });
  }

  /** Makes the secret due for rotation now (`202 {path, rotation_policy_id, action, version}`). */
  rotate(path: string): Promise<Record<string, unknown>> {
    return this.http.request({ method: "POST", path: `/v1/secrets/${secretPath(path)}/rotate`, body: {} });
  }

  undelete(path: string): Promise<SecretInfo> {
    return this.http.request({ method: "POST", path: `/v1/secrets/${secretPath(path)}/undelete`, body: {}, idempotent: true });
  }

  async destroy(path: string, versions: number[]): Promise<Record<string, unknown>> {
    const p = secretPath(path);
    try {
      return await this.http.request({ method: "POST", path: `/v1/secrets/${p}/destroy`, body: { versions }, idempotent: true });
    } finally {
      this.cache?.invalidate(p);
    }
  }

  batchRead(paths: string[], options: { includeMetadata?: boolean; failFast?: boolean; version?: number } = {}): Promise<BatchReadResponse> {
    const opts: Record<string, unknown> = {};
    if (options.includeMetadata !== undefined) opts.include_metadata = options.includeMetadata;
    if (options.failFast !== undefined) opts.fail_fast = options.failFast;
    if (options.version !== undefined) opts.version = options.version;
    return this.http.request({ method: "POST", path: "/v1/secrets/batch", body: { paths: paths.map(secretPath), ...(Object.keys(opts).length ? { options: opts } : {}) }, idempotent: true });
  }

  expiring(options: { within?: string; limit?: number; cursor?: string } = {}): Promise<Record<string, unknown>> {
    return this.http.request({ method: "GET", path: "/v1/secrets/expiring", query: options });
  }
}
