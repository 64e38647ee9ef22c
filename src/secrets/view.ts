import { validationError } from "../http/errors.js";
import { iso, isoOrNull } from "../shared/time.js";
import type { RotationBlock as RotationBlockSchema, SecretListItem } from "./schemas.js";
import type { SecretMetadata, SecretMetadataObject, SecretObject } from "./schemas.js";
import type { SecretRow, VersionRow } from "./store.js";
import type { Static } from "@sinclair/typebox";

/** The `rotation` block, filled by the rotation domain (src/rotation) when the secret has a policy. */
export type RotationBlock = Static<typeof RotationBlockSchema>;

export const DEFAULT_NOTIFY_BEFORE = "30d,7d,1d";

export function parseMetadata(text: string): SecretMetadata {
  return JSON.parse(text) as SecretMetadata;
}

const METADATA_FIELDS = new Set(["description", "tags", "owner", "custom"]);
const MAX_CUSTOM_KEY = 128;

/**
 * Metadata as stored and answered: the four fields, with custom key-values always under `custom`.
 * The docs' form puts custom keys directly inside `metadata`; those merge into `custom` (SPEC §3),
 * and a key given in both places is ambiguous, so it is refused rather than one silently winning.
 */
export function normalizeMetadata(input: Partial<SecretMetadata> | undefined, base?: SecretMetadata): SecretMetadata {
  const loose = Object.entries((input ?? {}) as Record<string, unknown>).filter(([key]) => !METADATA_FIELDS.has(key));
  let custom = input?.custom;
  if (loose.length > 0) {
    const fields: Record<string, string> = {};
    for (const [key] of loose) {
      if (key.length > MAX_CUSTOM_KEY) fields[`metadata.${key.slice(0, 32)}…`] = `custom keys are at most ${MAX_CUSTOM_KEY} characters`;
      else if (custom && Object.hasOwn(custom, key)) fields[`metadata.${key}`] = "given both directly in metadata and in metadata.custom; use one place";
    }
    if (Object.keys(fields).length > 0) throw validationError(fields);
    custom = { ...(custom ?? {}), ...Object.fromEntries(loose) };
  }
  return {
    description: input?.description !== undefined ? input.description : base?.description ?? null,
    tags: input?.tags !== undefined ? [...new Set(input.tags)] : base?.tags ?? [],
    owner: input?.owner !== undefined ? input.owner : base?.owner ?? null,
    custom: custom !== undefined ? custom : base?.custom ?? {},
  };
}

type RowTexts = Pick<SecretObject, "metadata" | "created_at" | "updated_at" | "expires_at" | "last_accessed_at">;

/**
 * A row's parsed metadata and dates, worked out once per row object: the reader's head cache
 * answers one row many times (a read parsed the metadata and formatted four dates each time, ~3 %
 * of its CPU). Rows are never changed in place (a touched row is a new object), and every answer
 * shares these, so they are frozen: a caller that tried to change one would throw, not leak.
 */
const rowTexts = new WeakMap<SecretRow, RowTexts>();

function textsOf(row: SecretRow): RowTexts {
  let texts = rowTexts.get(row);
  if (!texts) {
    texts = Object.freeze({
      metadata: deepFreeze(parseMetadata(row.metadata)),
      created_at: iso(row.created_at),
      updated_at: iso(row.updated_at),
      expires_at: isoOrNull(row.expires_at),
      last_accessed_at: isoOrNull(row.last_accessed_at),
    });
    rowTexts.set(row, texts);
  }
  return texts;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** The secret object without `data`, for `version` (the current one unless given). */
export function secretView(row: SecretRow, version?: VersionRow | null, rotation?: RotationBlock | null): SecretObject {
  const texts = textsOf(row);
  return {
    path: row.path,
    // The current version's type is the secret's (PATCH may retype it); older versions keep their own.
    secret_type: version && version.version !== row.current_version ? version.secret_type : row.secret_type,
    version: version?.version ?? row.current_version,
    metadata: texts.metadata,
    created_at: texts.created_at,
    updated_at: texts.updated_at,
    expires_at: texts.expires_at,
    last_accessed_at: texts.last_accessed_at,
    rotation_policy_id: row.rotation_policy_id,
    secret_policy_id: row.secret_policy_id,
    rotation: rotation ?? null,
  };
}

export function metadataView(row: SecretRow, versionsCount: number, rotation?: RotationBlock | null): SecretMetadataObject {
  return {
    ...secretView(row, null, rotation),
    current_version: row.current_version,
    versions_count: versionsCount,
    options: { max_versions: row.max_versions, expires_in: row.expires_in, notify_before: row.notify_before },
  };
}

export function listItemView(row: SecretRow): Static<typeof SecretListItem> {
  return {
    path: row.path,
    secret_type: row.secret_type,
    version: row.current_version,
    metadata: parseMetadata(row.metadata),
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    expires_at: isoOrNull(row.expires_at),
  };
}

export type VersionState = "current" | "previous" | "superseded" | "expired" | "deleted" | "destroyed";

export function versionState(secret: SecretRow, version: VersionRow, now: number): VersionState {
  if (version.destroyed_at !== null) return "destroyed";
  if (secret.deleted_at !== null) return "deleted";
  if (version.version === secret.current_version) return "current";
  if (version.grace_until !== null && version.grace_until <= now) return "expired";
  if (version.version === secret.current_version - 1) return "previous";
  return "superseded";
}
