import { Type, type Static } from "@sinclair/typebox";

const Name = Type.String({ minLength: 1, maxLength: 32 });
const Duration = Type.String({ minLength: 1, maxLength: 32, description: "a duration such as 30s, 15m, 1h, 7d" });
const Statements = Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { maxItems: 32 });

export const EngineParams = Type.Object({ engine: Type.String({ maxLength: 64 }) });
export const RoleParams = Type.Object({ engine: Type.String({ maxLength: 64 }), role: Type.String({ maxLength: 64 }) });
export const LeaseParams = Type.Object({ lease_id: Type.String({ maxLength: 64 }) });
export const EngineIdParams = Type.Object({ engine_id: Type.String({ maxLength: 64 }) });

export const EngineCreate = Type.Object(
  {
    name: Name,
    type: Type.String({ minLength: 1, maxLength: 64, description: "database | ssh (database.postgresql etc. accepted)" }),
    config: Type.Record(Type.String(), Type.Unknown(), { description: "database: {plugin, connection_url, root_credentials_path, max_open_connections, connect_timeout, statement_timeout, root_rotation_interval}; ssh: {key_type}" }),
    default_ttl: Type.Optional(Duration),
    max_ttl: Type.Optional(Duration),
    description: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  { additionalProperties: false },
);
export const EnginePatch = Type.Object(
  {
    config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    default_ttl: Type.Optional(Duration),
    max_ttl: Type.Optional(Duration),
    description: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  { additionalProperties: false },
);
export const DeleteEngineQuery = Type.Object({ force: Type.Optional(Type.Boolean()) }, { additionalProperties: false });

export const EngineObject = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    type: Type.String(),
    config: Type.Record(Type.String(), Type.Unknown()),
    default_ttl: Type.String(),
    max_ttl: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    identity_id: Type.String(),
    status: Type.String(),
    leases_active: Type.Integer(),
    ca_public_key: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    last_root_rotation_at: Type.Union([Type.String(), Type.Null()]),
    created_at: Type.String(),
    updated_at: Type.String(),
  },
  { additionalProperties: false },
);
export const HealthObject = Type.Object({ status: Type.String(), latency_ms: Type.Number(), checked_at: Type.String(), error: Type.Union([Type.Null(), Type.Record(Type.String(), Type.Unknown())]) });
export const RotateRootResponse = Type.Object({ engine: Type.String(), rotated_at: Type.String(), version: Type.Integer() });

export const RoleCreate = Type.Object(
  {
    name: Name,
    creation_statements: Type.Optional(Statements),
    revocation_statements: Type.Optional(Statements),
    renew_statements: Type.Optional(Statements),
    allowed_users: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100 })),
    default_user: Type.Optional(Type.String({ maxLength: 64 })),
    default_extensions: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 256 }))),
    default_ttl: Type.Optional(Duration),
    max_ttl: Type.Optional(Duration),
    description: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  { additionalProperties: false },
);
export const RolePatch = Type.Partial(Type.Omit(RoleCreate, ["name"]), { additionalProperties: false });
export const RoleObject = Type.Object({ name: Type.String(), engine: Type.String(), default_ttl: Type.String(), max_ttl: Type.String(), created_at: Type.String(), updated_at: Type.String() }, { additionalProperties: true });

export const CredsBody = Type.Object(
  {
    ttl: Type.Optional(Duration),
    public_key: Type.Optional(Type.String({ maxLength: 16384 })),
    valid_principals: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 32 })),
  },
  { additionalProperties: false },
);
export type CredsBodyType = Static<typeof CredsBody>;

export const LeaseObject = Type.Object(
  {
    lease_id: Type.String(),
    engine: Type.String(),
    role: Type.String(),
    state: Type.String(),
    identity_id: Type.String(),
    username: Type.String(),
    lease_duration: Type.Integer(),
    renewable: Type.Boolean(),
    expires_at: Type.String(),
    max_expires_at: Type.String(),
    created_at: Type.String(),
    last_renewed_at: Type.Union([Type.String(), Type.Null()]),
    revoked_at: Type.Union([Type.String(), Type.Null()]),
    revoke_reason: Type.Union([Type.String(), Type.Null()]),
    revoke_attempts: Type.Integer(),
    last_error: Type.Union([Type.String(), Type.Null()]),
    next_retry_at: Type.Union([Type.String(), Type.Null()]),
    serial_number: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export const CredsResponse = Type.Intersect([LeaseObject, Type.Object({ data: Type.Record(Type.String(), Type.Unknown()) })]);
export const LeaseListQuery = Type.Object(
  {
    engine: Type.Optional(Type.String({ maxLength: 64 })),
    role: Type.Optional(Type.String({ maxLength: 64 })),
    state: Type.Optional(Type.Union(["active", "revoked", "expired", "revoke_failed"].map((s) => Type.Literal(s)))),
    identity_id: Type.Optional(Type.String({ maxLength: 256 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);
export const RenewBody = Type.Object({ increment: Type.Optional(Duration) }, { additionalProperties: false });
export const PrefixBody = Type.Object({ prefix: Type.String({ minLength: 1, maxLength: 70 }) }, { additionalProperties: false });
export const PrefixResponse = Type.Object({ revoked: Type.Integer(), failed: Type.Integer(), lease_ids: Type.Array(Type.String()) });

export const listOf = <T extends ReturnType<typeof Type.Object> | typeof RoleObject>(item: T) =>
  Type.Object({ data: Type.Array(item), cursor: Type.Union([Type.String(), Type.Null()]), has_more: Type.Boolean() });
