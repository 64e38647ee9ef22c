import { Type, type Static } from "@sinclair/typebox";

/**
 * Request and response shapes of the rotation and secret-policy APIs. Durations, generators and
 * generator configs are plain strings/objects here so the services can answer their specific codes
 * (`invalid_duration`, `invalid_config`) instead of a generic validation error.
 */
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);
const Name = Type.String({ minLength: 1, maxLength: 128 });
const Duration = Type.String({ maxLength: 32 });
const WarnBefore = Type.Union([Type.String({ maxLength: 256 }), Type.Array(Duration, { maxItems: 20 }), Type.Null()], {
  description: 'comma-separated durations ("7d,1d"); a list is accepted too',
});
const Id = Type.String({ minLength: 1, maxLength: 64 });

export const RotationPolicyCreate = Type.Object(
  {
    name: Name,
    interval: Duration,
    description: Type.Optional(Nullable(Type.String({ maxLength: 1024 }))),
    grace_period: Type.Optional(Duration),
    warn_before: Type.Optional(WarnBefore),
    auto_generate: Type.Optional(Type.Boolean()),
    secret_policy_id: Type.Optional(Nullable(Id)),
    webhook_ids: Type.Optional(Type.Array(Id, { maxItems: 50 })),
  },
  { additionalProperties: false },
);
export type RotationPolicyCreate = Static<typeof RotationPolicyCreate>;

export const RotationPolicyPatch = Type.Partial(Type.Omit(RotationPolicyCreate, []), { additionalProperties: false });
export type RotationPolicyPatch = Static<typeof RotationPolicyPatch>;

export const RotationPolicyObject = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  interval: Type.String(),
  interval_seconds: Type.Integer(),
  grace_period: Type.String(),
  grace_period_seconds: Type.Integer(),
  warn_before: Type.Union([Type.String(), Type.Null()]),
  auto_generate: Type.Boolean(),
  secret_policy_id: Type.Union([Type.String(), Type.Null()]),
  webhook_ids: Type.Array(Type.String()),
  is_active: Type.Boolean(),
  secrets_count: Type.Integer(),
  created_at: Type.String(),
  updated_at: Type.String(),
});
export type RotationPolicyObject = Static<typeof RotationPolicyObject>;

const Page = { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })), cursor: Type.Optional(Type.String({ maxLength: 2048 })) };

export const PolicyListQuery = Type.Object({ active_only: Type.Optional(Type.Boolean()), ...Page }, { additionalProperties: false });
export type PolicyListQuery = Static<typeof PolicyListQuery>;

export const IdParams = Type.Object({ id: Id });

export const AssignBody = Type.Object({ secret_path: Type.String({ minLength: 1, maxLength: 600 }) }, { additionalProperties: false });

export const SecretAssignment = Type.Object({
  policy_id: Type.String(),
  secret_path: Type.String(),
  assigned_at: Type.String(),
  state: Type.String(),
  last_rotated_at: Type.Union([Type.String(), Type.Null()]),
  next_rotation_at: Type.Union([Type.String(), Type.Null()]),
});

export const PolicyRotateBody = Type.Object(
  { secret_paths: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 600 }), { minItems: 1, maxItems: 100 })) },
  { additionalProperties: false },
);

export const RotationHistoryItem = Type.Object({
  id: Type.String(),
  policy_id: Type.String(),
  secret_path: Type.String(),
  status: Type.Union([Type.Literal("success"), Type.Literal("failed"), Type.Literal("pending")]),
  trigger: Type.String(),
  old_version: Type.Union([Type.Integer(), Type.Null()]),
  new_version: Type.Union([Type.Integer(), Type.Null()]),
  auto_generated: Type.Boolean(),
  error: Type.Union([Type.String(), Type.Null()]),
  due_at: Type.Union([Type.String(), Type.Null()]),
  started_at: Type.String(),
  completed_at: Type.Union([Type.String(), Type.Null()]),
});
export type RotationHistoryItem = Static<typeof RotationHistoryItem>;

export const HistoryQuery = Type.Object(
  { status: Type.Optional(Type.Union([Type.Literal("success"), Type.Literal("failed"), Type.Literal("pending")])), ...Page },
  { additionalProperties: false },
);
export type HistoryQuery = Static<typeof HistoryQuery>;

export const DueQuery = Type.Object(
  {
    within_hours: Type.Optional(Type.Number({ minimum: 0, maximum: 24 * 3660, default: 24 })),
    include_overdue: Type.Optional(Type.Boolean({ default: true })),
    policy_id: Type.Optional(Id),
    ...Page,
  },
  { additionalProperties: false },
);
export type DueQuery = Static<typeof DueQuery>;

export const DueItem = Type.Object({
  secret_path: Type.String(),
  rotation_policy_id: Type.String(),
  rotation_policy_name: Type.String(),
  state: Type.String(),
  due_at: Type.String(),
  overdue: Type.Boolean(),
  last_rotated_at: Type.Union([Type.String(), Type.Null()]),
});

export const SecretRotateResponse = Type.Object({
  path: Type.String(),
  rotation_policy_id: Type.String(),
  action: Type.Union([Type.Literal("rotated"), Type.Literal("due")]),
  version: Type.Integer(),
});

// --- secret policies ---

export const POLICY_TYPES = ["password", "api_key", "oauth_client", "ssh_key", "custom"] as const;

export const FieldInput = Type.Object(
  {
    name: Type.String({ pattern: "^[A-Za-z_][A-Za-z0-9_.-]{0,63}$" }),
    generator: Type.String({ maxLength: 32 }),
    config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);

export const SecretPolicyCreate = Type.Object(
  {
    name: Name,
    policy_type: Type.Optional(Type.Union(POLICY_TYPES.map((t) => Type.Literal(t)))),
    description: Type.Optional(Nullable(Type.String({ maxLength: 1024 }))),
    fields: Type.Array(FieldInput, { minItems: 1, maxItems: 50 }),
    is_active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type SecretPolicyCreate = Static<typeof SecretPolicyCreate>;

export const SecretPolicyPatch = Type.Partial(SecretPolicyCreate, { additionalProperties: false });
export type SecretPolicyPatch = Static<typeof SecretPolicyPatch>;

export const SecretPolicyObject = Type.Object({
  id: Type.String(),
  name: Type.String(),
  policy_type: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  fields: Type.Array(Type.Object({ name: Type.String(), generator: Type.String(), config: Type.Record(Type.String(), Type.Unknown()) })),
  is_active: Type.Boolean(),
  created_at: Type.String(),
  updated_at: Type.String(),
});
export type SecretPolicyObject = Static<typeof SecretPolicyObject>;

export const PreviewResponse = Type.Object({
  policy_id: Type.String(),
  data: Type.Record(Type.String(), Type.String()),
  generated_at: Type.String(),
});

export const listOf = <T extends ReturnType<typeof Type.Object>>(item: T) =>
  Type.Object({ data: Type.Array(item), cursor: Type.Union([Type.String(), Type.Null()]), has_more: Type.Boolean() });
