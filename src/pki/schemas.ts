import { Type, type TSchema } from "@sinclair/typebox";
import { NAME_PATTERN, REVOCATION_REASONS } from "./common.js";

const Name = Type.String({ pattern: NAME_PATTERN });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Str = Type.String();
const Strings = Type.Array(Type.String({ maxLength: 253 }), { maxItems: 100 });
const Reason = Type.Union(Object.keys(REVOCATION_REASONS).map((r) => Type.Literal(r)));
const Pem = Type.String({ minLength: 1, maxLength: 65_536 });
const open = { additionalProperties: true };

export const IdParams = Type.Object({ id: Type.String({ maxLength: 128 }) });
export const NameParams = Type.Object({ name: Type.String({ maxLength: 128 }) });
export const RoleParams = Type.Object({ role: Type.String({ maxLength: 128 }) });
export const FormatQuery = Type.Object({ format: Type.Optional(Type.Union([Type.Literal("json"), Type.Literal("pem"), Type.Literal("der")])) });

export const CaCreate = Type.Object({
  name: Name,
  common_name: Type.String({ minLength: 1, maxLength: 64 }),
  ca_type: Type.Union([Type.Literal("root"), Type.Literal("intermediate")]),
  parent_ca_id: Type.Optional(Type.String({ maxLength: 128 })),
  key_type: Type.Optional(Type.Union([Type.Literal("rsa"), Type.Literal("ec")])),
  key_size: Type.Optional(Type.Integer()),
  validity_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 36_500 })),
}, { additionalProperties: false });

export const CaObject = Type.Object({
  id: Str, name: Str, common_name: Str, ca_type: Str, parent_ca_id: Nullable(Str), key_type: Str, key_size: Type.Integer(), serial_number: Str,
  valid_from: Str, valid_until: Str, is_active: Type.Boolean(), revoked_at: Nullable(Str), certificates_issued: Type.Integer(), created_at: Str,
});
export const CaList = Type.Object({ data: Type.Array(CaObject) });
export const RevokeBody = Type.Object({ reason: Type.Optional(Reason) }, { additionalProperties: false });
export const CrlGenerated = Type.Object({ ca_id: Str, crl_number: Type.Integer(), crl_pem: Str, this_update: Str, next_update: Str });

const roleFields = {
  ca_id: Type.String({ maxLength: 128 }),
  allowed_domains: Strings,
  allow_subdomains: Type.Boolean(),
  allow_ip_sans: Type.Boolean(),
  ttl: Nullable(Type.String({ maxLength: 32 })),
  max_ttl: Type.String({ maxLength: 32 }),
  key_type: Type.Union([Type.Literal("rsa"), Type.Literal("ec"), Type.Literal("any")]),
  key_bits: Type.Integer(),
  require_cn: Type.Boolean(),
  store_private_keys: Type.Boolean(),
  server_flag: Type.Boolean(),
  client_flag: Type.Boolean(),
};
export const RolePatch = Type.Partial(Type.Object(roleFields), { additionalProperties: false });
export const RoleCreate = Type.Composite([Type.Object({ name: Name, ca_id: roleFields.ca_id }), Type.Omit(RolePatch, ["ca_id"])], { additionalProperties: false });
export const RoleObject = Type.Object({ name: Str, ...roleFields, ttl: Str, created_at: Str, updated_at: Str });
export const RoleList = Type.Object({ data: Type.Array(RoleObject) });

export const IssueBody = Type.Object({
  common_name: Type.String({ minLength: 1, maxLength: 253 }),
  alt_names: Type.Optional(Strings),
  ip_sans: Type.Optional(Strings),
  ttl: Type.Optional(Type.String({ maxLength: 32 })),
}, { additionalProperties: false });
export const SignBody = Type.Object({
  csr_pem: Pem,
  ttl: Type.Optional(Type.String({ maxLength: 32 })),
  common_name: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
  alt_names: Type.Optional(Strings),
  ip_sans: Type.Optional(Strings),
}, { additionalProperties: false });
const issuedFields = { id: Str, serial_number: Str, certificate: Str, ca_chain: Type.Array(Str), issuing_ca: Str, not_before: Str, not_after: Str, secret_path: Nullable(Str) };
export const Issued = Type.Object({ ...issuedFields, private_key: Str, private_key_type: Str });
export const Signed = Type.Object(issuedFields);

const certFields = {
  id: Str, serial_number: Str, common_name: Nullable(Str), alt_names: Type.Array(Str), ip_sans: Type.Array(Str), source: Str, ca_id: Str, role: Nullable(Str),
  order_id: Nullable(Str), not_before: Str, not_after: Str, revoked_at: Nullable(Str), revocation_reason: Nullable(Str), secret_path: Nullable(Str), created_by: Str,
};
export const CertObject = Type.Object(certFields);
export const CertFull = Type.Object({ ...certFields, certificate: Str, ca_chain: Type.Array(Str) });
export const CertList = Type.Object({ data: Type.Array(CertObject), cursor: Nullable(Str), has_more: Type.Boolean() });
export const CertListQuery = Type.Object({
  ca_id: Type.Optional(Str),
  role: Type.Optional(Str),
  source: Type.Optional(Type.Union([Type.Literal("issue"), Type.Literal("sign"), Type.Literal("csr"), Type.Literal("acme")])),
  expiring_within: Type.Optional(Type.String({ maxLength: 32 })),
  include_revoked: Type.Optional(Type.Boolean()),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  cursor: Type.Optional(Type.String({ maxLength: 512 })),
});

export const CsrSubmit = Type.Object({
  csr_pem: Pem,
  role: Type.String({ maxLength: 128 }),
  ttl: Type.Optional(Type.String({ maxLength: 32 })),
  comment: Type.Optional(Type.String({ maxLength: 1024 })),
}, { additionalProperties: false });
export const CsrApprove = Type.Object({ ttl: Type.Optional(Type.String({ maxLength: 32 })) }, { additionalProperties: false });
export const CsrReject = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 1024 })) }, { additionalProperties: false });
export const CsrQuery = Type.Object({
  state: Type.Optional(Type.Union([Type.Literal("pending"), Type.Literal("signed"), Type.Literal("rejected"), Type.Literal("expired")])),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  cursor: Type.Optional(Type.String({ maxLength: 512 })),
});
export const CsrObject = Type.Object({
  id: Str, state: Str, role: Str, common_name: Nullable(Str), alt_names: Type.Array(Str), ip_sans: Type.Array(Str), key_type: Str, requested_by: Str,
  comment: Nullable(Str), created_at: Str, certificate_id: Nullable(Str), approved_by: Nullable(Str), rejected_by: Nullable(Str), reason: Nullable(Str),
  certificate: Type.Optional(Str), ca_chain: Type.Optional(Type.Array(Str)),
});
export const CsrList = Type.Object({ data: Type.Array(CsrObject), cursor: Nullable(Str), has_more: Type.Boolean() });

export const AnchorCreate = Type.Object({ name: Name, certificate_pem: Pem, description: Type.Optional(Type.String({ maxLength: 1024 })) }, { additionalProperties: false });
export const AnchorObject = Type.Object({
  id: Str, name: Str, description: Nullable(Str), subject: Str, issuer: Str, serial_number: Str, fingerprint_sha256: Str, not_before: Str, not_after: Str, created_at: Str,
  certificate_pem: Type.Optional(Str),
}, open);
export const AnchorList = Type.Object({ data: Type.Array(AnchorObject) });
