import { Type, type Static } from "@sinclair/typebox";

/**
 * The secrets API's request and response shapes: they validate requests, document the OpenAPI
 * spec and type the handlers, the SDK and the tests. `secret_type` and durations are plain strings
 * here so that the service can answer their own specific codes (`invalid_secret_type`,
 * `invalid_duration`) rather than a generic validation error.
 */
export const SECRET_TYPES = ["kv", "json", "certificate", "ssh_key", "api_key"] as const;
export type SecretType = (typeof SECRET_TYPES)[number];

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

export const SecretMetadataInput = Type.Object(
  {
    description: Type.Optional(Nullable(Type.String({ maxLength: 1024 }))),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 50 })),
    owner: Type.Optional(Nullable(Type.String({ maxLength: 256 }))),
    custom: Type.Optional(Type.Record(Type.String({ maxLength: 128 }), Type.Unknown())),
  },
  // The docs' form: custom keys directly inside `metadata` (merged into `custom`, src/secrets/view.ts).
  { additionalProperties: true, maxProperties: 100, description: "description, tags, owner and custom; any other key is a custom key (merged into custom)" },
);

export const SecretOptionsInput = Type.Object(
  {
    max_versions: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    expires_in: Type.Optional(Nullable(Type.String({ maxLength: 32 }))),
    rotation_policy_id: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
    secret_policy_id: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
    notify_before: Type.Optional(Nullable(Type.String({ maxLength: 128 }))),
    cas: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export const WriteSecretBody = Type.Object(
  {
    data: Type.Record(Type.String(), Type.Unknown()),
    secret_type: Type.Optional(Type.String({ maxLength: 32 })),
    metadata: Type.Optional(SecretMetadataInput),
    options: Type.Optional(SecretOptionsInput),
  },
  { additionalProperties: false },
);
export type WriteSecretBody = Static<typeof WriteSecretBody>;

export const PatchMetadataBody = Type.Object(
  {
    metadata: Type.Optional(SecretMetadataInput),
    options: Type.Optional(Type.Omit(SecretOptionsInput, ["cas"], { additionalProperties: false })),
    secret_type: Type.Optional(Type.String({ maxLength: 32 })),
  },
  { additionalProperties: false },
);
export type PatchMetadataBody = Static<typeof PatchMetadataBody>;

export const ReadSecretQuery = Type.Object(
  { version: Type.Optional(Type.String({ pattern: "^([1-9][0-9]{0,8}|previous)$", description: "a version number or `previous`" })) },
  { additionalProperties: false },
);

export const DeleteSecretQuery = Type.Object({ permanent: Type.Optional(Type.Boolean()) }, { additionalProperties: false });

export const DestroyVersionsBody = Type.Object(
  { versions: Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1, maxItems: 1000 }) },
  { additionalProperties: false },
);
export type DestroyVersionsBody = Static<typeof DestroyVersionsBody>;

export const ListSecretsQuery = Type.Object(
  {
    prefix: Type.Optional(Type.String({ maxLength: 512 })),
    tag: Type.Optional(Type.String({ maxLength: 128 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    cursor: Type.Optional(Type.String({ maxLength: 2048 })),
  },
  { additionalProperties: false },
);
export type ListSecretsQuery = Static<typeof ListSecretsQuery>;

export const ExpiringQuery = Type.Object(
  {
    within: Type.Optional(Type.String({ maxLength: 32, default: "30d" })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    cursor: Type.Optional(Type.String({ maxLength: 2048 })),
  },
  { additionalProperties: false },
);
export type ExpiringQuery = Static<typeof ExpiringQuery>;

export const BatchReadBody = Type.Object(
  {
    paths: Type.Array(Type.String({ maxLength: 600 }), { minItems: 1, maxItems: 100 }),
    options: Type.Optional(
      Type.Object(
        {
          include_metadata: Type.Optional(Type.Boolean()),
          fail_fast: Type.Optional(Type.Boolean()),
          version: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type BatchReadBody = Static<typeof BatchReadBody>;

export const BatchMetadataBody = Type.Object(
  {
    paths: Type.Array(Type.String({ maxLength: 600 }), { minItems: 1, maxItems: 100, description: "paths, or SPEC §4 globs with expand_wildcards" }),
    expand_wildcards: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false },
);
export type BatchMetadataBody = Static<typeof BatchMetadataBody>;

export const SecretMetadata = Type.Object({
  description: Type.Union([Type.String(), Type.Null()]),
  tags: Type.Array(Type.String()),
  owner: Type.Union([Type.String(), Type.Null()]),
  custom: Type.Record(Type.String(), Type.Unknown()),
});
export type SecretMetadata = Static<typeof SecretMetadata>;

export const RotationBlock = Type.Object({
  policy_id: Type.String(),
  state: Type.String(),
  last_rotated_at: Type.Union([Type.String(), Type.Null()]),
  next_rotation_at: Type.Union([Type.String(), Type.Null()]),
});

export const SecretObject = Type.Object({
  path: Type.String(),
  secret_type: Type.String(),
  version: Type.Integer(),
  data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  metadata: SecretMetadata,
  created_at: Type.String(),
  updated_at: Type.String(),
  expires_at: Type.Union([Type.String(), Type.Null()]),
  last_accessed_at: Type.Union([Type.String(), Type.Null()]),
  rotation_policy_id: Type.Union([Type.String(), Type.Null()]),
  secret_policy_id: Type.Union([Type.String(), Type.Null()]),
  rotation: Type.Union([RotationBlock, Type.Null()]),
});
export type SecretObject = Static<typeof SecretObject>;

export const SecretMetadataObject = Type.Composite([
  Type.Omit(SecretObject, ["data"]),
  Type.Object({
    current_version: Type.Integer(),
    versions_count: Type.Integer(),
    options: Type.Object({
      max_versions: Type.Integer(),
      expires_in: Type.Union([Type.String(), Type.Null()]),
      notify_before: Type.Union([Type.String(), Type.Null()]),
    }),
  }),
]);
export type SecretMetadataObject = Static<typeof SecretMetadataObject>;

export const VersionState = Type.Union(
  ["current", "previous", "superseded", "expired", "deleted", "destroyed"].map((s) => Type.Literal(s)),
);

export const SecretVersionsResponse = Type.Object({
  path: Type.String(),
  current_version: Type.Integer(),
  versions: Type.Array(
    Type.Object({
      version: Type.Integer(),
      state: VersionState,
      secret_type: Type.String(),
      created_at: Type.String(),
      created_by: Type.Union([Type.String(), Type.Null()]),
      destroyed_at: Type.Union([Type.String(), Type.Null()]),
      grace_period_ends: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
});
export type SecretVersionsResponse = Static<typeof SecretVersionsResponse>;

export const SecretListItem = Type.Object({
  path: Type.String(),
  secret_type: Type.String(),
  version: Type.Integer(),
  metadata: SecretMetadata,
  created_at: Type.String(),
  updated_at: Type.String(),
  expires_at: Type.Union([Type.String(), Type.Null()]),
});

export const SecretListResponse = Type.Object({
  data: Type.Array(SecretListItem),
  cursor: Type.Union([Type.String(), Type.Null()]),
  has_more: Type.Boolean(),
});
export type SecretListResponse = Static<typeof SecretListResponse>;

export const DeleteSecretResponse = Type.Object({
  path: Type.String(),
  deleted: Type.Boolean(),
  permanent: Type.Boolean(),
  recoverable_until: Type.Union([Type.String(), Type.Null()]),
  version_count: Type.Integer(),
});

export const BatchReadResponse = Type.Object({
  secrets: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown())),
  errors: Type.Record(Type.String(), Type.Object({ code: Type.String(), message: Type.String() })),
});
export type BatchReadResponse = Static<typeof BatchReadResponse>;

export const BatchMetadataResponse = Type.Object({
  secrets: Type.Record(Type.String(), SecretMetadataObject),
  errors: Type.Record(Type.String(), Type.Object({ code: Type.String(), message: Type.String() })),
});
export type BatchMetadataResponse = Static<typeof BatchMetadataResponse>;
