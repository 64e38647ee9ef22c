import { Type, type Static } from "@sinclair/typebox";

const Timestamp = Type.String({ description: "RFC 3339 / ISO 8601 time" });

/** The documented filters of GET /v1/audit/logs (also the `filters` of an export). */
export const FilterFields = {
  from: Type.Optional(Timestamp),
  to: Type.Optional(Timestamp),
  action: Type.Optional(Type.String({ maxLength: 1000, description: "one action, or several comma-separated" })),
  identity_id: Type.Optional(Type.String({ maxLength: 512 })),
  identity_type: Type.Optional(Type.Union([Type.Literal("user"), Type.Literal("service_account"), Type.Literal("group"), Type.Literal("system")])),
  path_prefix: Type.Optional(Type.String({ maxLength: 512 })),
  success: Type.Optional(Type.Boolean()),
  source_ip: Type.Optional(Type.String({ maxLength: 64 })),
  request_id: Type.Optional(Type.String({ maxLength: 64 })),
};

const Paging = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Type.String({ maxLength: 512 })),
};

export const LogsQuery = Type.Object({ ...FilterFields, ...Paging }, { additionalProperties: false });
export type LogsQuery = Static<typeof LogsQuery>;

export const TrailQuery = Type.Object(
  { from: FilterFields.from, to: FilterFields.to, action: FilterFields.action, success: FilterFields.success, ...Paging },
  { additionalProperties: false },
);
export type TrailQuery = Static<typeof TrailQuery>;

export const SummaryQuery = Type.Object({ from: FilterFields.from, to: FilterFields.to }, { additionalProperties: false });
export type SummaryQuery = Static<typeof SummaryQuery>;

export const AuditEntryView = Type.Object({
  id: Type.String(),
  timestamp: Timestamp,
  tenant_id: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  identity_type: Type.Union([Type.String(), Type.Null()]),
  identity_id: Type.Union([Type.String(), Type.Null()]),
  secret_path: Type.Union([Type.String(), Type.Null()]),
  source_ip: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  success: Type.Boolean(),
  duration_ms: Type.Integer(),
  request_id: Type.String(),
  extra_data: Type.Object({}, { additionalProperties: true }),
  prev_hash: Type.String(),
  hash: Type.String(),
});
export type AuditEntryView = Static<typeof AuditEntryView>;

export const LogsResponse = Type.Object({
  logs: Type.Array(AuditEntryView),
  cursor: Type.Union([Type.String(), Type.Null()]),
  has_more: Type.Boolean(),
});

export const VerifyResponse = Type.Object({
  ok: Type.Boolean(),
  entries: Type.Integer(),
  chains: Type.Integer({ description: "tenant and partner chains walked" }),
  lanes: Type.Integer({ description: "lanes walked over those chains (a chain has up to 8 on PostgreSQL, one on SQLite)" }),
  first_bad_entry: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  chain: Type.Optional(Type.String({ description: "the lane where verification stopped: tenant:<id>, partner:<id>, or a lane tenant:<id>#<k>" })),
  reason: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
});

export const ExportBody = Type.Object(
  {
    from: Type.Optional(Timestamp),
    to: Type.Optional(Timestamp),
    format: Type.Union([Type.Literal("jsonl"), Type.Literal("csv")], { default: "jsonl" }),
    filters: Type.Optional(
      Type.Object(
        {
          action: FilterFields.action,
          identity_id: FilterFields.identity_id,
          identity_type: FilterFields.identity_type,
          path_prefix: FilterFields.path_prefix,
          success: FilterFields.success,
          source_ip: FilterFields.source_ip,
          request_id: FilterFields.request_id,
        },
        { additionalProperties: false },
      ),
    ),
    destination: Type.Object(
      {
        type: Type.String({ maxLength: 32, description: "`s3` (any S3-compatible store) or `file` (a directory under SCAIVAULT_AUDIT_EXPORT_DIR); `gcs` and `azure_blob` are not supported" }),
        path: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: "file: the directory, relative to the export directory" })),
        bucket: Type.Optional(Type.String({ maxLength: 63 })),
        prefix: Type.Optional(Type.String({ maxLength: 512 })),
        region: Type.Optional(Type.String({ maxLength: 64 })),
        endpoint: Type.Optional(Type.String({ maxLength: 512, description: "an S3-compatible service's URL (default: AWS)" })),
        credentials_path: Type.Optional(Type.String({ maxLength: 512, description: "a secret holding access_key_id and secret_access_key, read with the caller's policies" })),
        server_side_encryption: Type.Optional(Type.Union([Type.Boolean(), Type.String({ maxLength: 32 })], { description: "true (AES256), aws:kms or aws:kms:dsse" })),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type ExportBody = Static<typeof ExportBody>;

export const ExportsQuery = Type.Object(Paging, { additionalProperties: false });
export type ExportsQuery = Static<typeof ExportsQuery>;

export const CheckpointsQuery = Type.Object(
  {
    chain: Type.Optional(Type.String({ maxLength: 200, description: "one chain, e.g. tenant:tnt_… or partner:ptn_…" })),
    from: FilterFields.from,
    to: FilterFields.to,
    ...Paging,
  },
  { additionalProperties: false },
);
export type CheckpointsQuery = Static<typeof CheckpointsQuery>;

export const RetentionBody = Type.Object({ days: Type.Integer({ minimum: 0, maximum: 36_500, description: "days to keep audit entries" }) }, { additionalProperties: false });
export type RetentionBody = Static<typeof RetentionBody>;
