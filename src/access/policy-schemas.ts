import { Type, type Static } from "@sinclair/typebox";

/**
 * Policies API shapes. Patterns, permissions, CIDRs and time windows are plain strings here so the
 * service answers their specific codes (`invalid_glob`, `invalid_policy`) instead of a generic 422.
 */
const TimeWindow = Type.Object(
  {
    start: Type.String({ description: "HH:MM, 24-hour" }),
    end: Type.String({ description: "HH:MM, 24-hour; before start spans midnight" }),
    timezone: Type.Optional(Type.String({ maxLength: 64, description: "IANA zone, default UTC" })),
    days: Type.Optional(Type.Array(Type.String(), { maxItems: 7, description: "mon … sun" })),
  },
  { additionalProperties: false },
);

const Conditions = Type.Object(
  {
    ip_ranges: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100 })),
    require_mfa: Type.Optional(Type.Boolean()),
    time_window: Type.Optional(TimeWindow),
  },
  { additionalProperties: false },
);

export const RuleInput = Type.Object(
  {
    path_pattern: Type.String({ maxLength: 4096, description: "SPEC §4 glob; over 512 characters or 16 wildcards answers invalid_glob" }),
    permissions: Type.Array(Type.String({ maxLength: 16 }), { maxItems: 6 }),
    conditions: Type.Optional(Type.Union([Conditions, Type.Null()])),
    effect: Type.Optional(Type.String({ description: "allow (default) or deny" })),
  },
  { additionalProperties: false },
);
export type RuleInput = Static<typeof RuleInput>;

const Rules = Type.Array(RuleInput, { maxItems: 10_000 });
const Name = Type.String({ minLength: 1, maxLength: 128 });
const Description = Type.Union([Type.String({ maxLength: 1024 }), Type.Null()]);

export const CreatePolicyBody = Type.Object(
  {
    name: Name,
    description: Type.Optional(Description),
    rules: Rules,
    scope: Type.Optional(Type.Union([Type.Literal("tenant"), Type.Literal("partner")])),
    is_active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type CreatePolicyBody = Static<typeof CreatePolicyBody>;

/** PUT replaces name, description, rules (and is_active); scope and bindings stay. */
export const ReplacePolicyBody = Type.Object(
  { name: Name, description: Type.Optional(Description), rules: Rules, is_active: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
export type ReplacePolicyBody = Static<typeof ReplacePolicyBody>;

export const PatchPolicyBody = Type.Partial(ReplacePolicyBody, { additionalProperties: false });
export type PatchPolicyBody = Static<typeof PatchPolicyBody>;

export const PolicyIdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
export const BindingParams = Type.Object({ id: Type.String({ maxLength: 64 }), binding_id: Type.String({ maxLength: 64 }) });

export const ListPoliciesQuery = Type.Object(
  {
    scope: Type.Optional(Type.Union([Type.Literal("tenant"), Type.Literal("partner")])),
    include_inactive: Type.Optional(Type.Boolean()),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);
export type ListPoliciesQuery = Static<typeof ListPoliciesQuery>;

export const ListBindingsQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: "ext: bindings per page (default 1000)" })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);
export type ListBindingsQuery = Static<typeof ListBindingsQuery>;

export const DeletePolicyQuery = Type.Object({ force: Type.Optional(Type.Boolean()) }, { additionalProperties: false });

export const CreateBindingBody = Type.Object(
  {
    identity_type: Type.Union([Type.Literal("user"), Type.Literal("service_account"), Type.Literal("group"), Type.Literal("system")], { description: "system: only system:bootstrap and dynamic:<engine>" }),
    identity_id: Type.String({ minLength: 1, maxLength: 256 }),
    expires_at: Type.Optional(Type.Union([Type.String({ maxLength: 64, description: "RFC 3339" }), Type.Null()])),
  },
  { additionalProperties: false },
);
export type CreateBindingBody = Static<typeof CreateBindingBody>;

export const TestPolicyBody = Type.Object(
  {
    identity_id: Type.String({ minLength: 1, maxLength: 256 }),
    path: Type.String({ minLength: 1, maxLength: 600 }),
    permission: Type.Union(["read", "write", "delete", "list", "rotate", "admin"].map((p) => Type.Literal(p))),
    groups: Type.Optional(Type.Array(Type.String({ maxLength: 256 }), { maxItems: 100, description: "ext: group identities to evaluate with" })),
    context: Type.Optional(
      Type.Object(
        {
          source_ip: Type.Optional(Type.String({ maxLength: 64 })),
          mfa_verified: Type.Optional(Type.Boolean()),
          timestamp: Type.Optional(Type.String({ maxLength: 64, description: "RFC 3339" })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type TestPolicyBody = Static<typeof TestPolicyBody>;

export const TestPolicyResponse = Type.Object({
  allowed: Type.Boolean(),
  code: Type.Union([Type.String(), Type.Null()]),
  policy_id: Type.Union([Type.String(), Type.Null()]),
  rule_index: Type.Union([Type.Integer(), Type.Null()]),
  failed_condition: Type.Union([Type.String(), Type.Null()]),
});
