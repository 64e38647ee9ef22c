import { Type, type Static } from "@sinclair/typebox";

/**
 * Webhook, subscription, delivery and polling shapes: request validation, the OpenAPI document and
 * handler types. Durations, globs, event types and URLs are plain strings here so the services can
 * answer their specific codes (`invalid_duration`, `invalid_glob`) or name the field.
 */
const Scheme = Type.Union([Type.Literal("body"), Type.Literal("timestamped")]);
const EventList = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 50 });
const Name = Type.String({ minLength: 1, maxLength: 128 });
const Url = Type.String({ minLength: 1, maxLength: 2048 });
const SigningSecret = Type.String({ minLength: 1, maxLength: 512 });

export const WebhookFiltersInput = Type.Object(
  {
    path_prefix: Type.Optional(Type.String({ maxLength: 512 })),
    secret_type: Type.Optional(Type.String({ maxLength: 32 })),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 50 })),
  },
  { additionalProperties: false },
);

export const CreateWebhookBody = Type.Object(
  {
    name: Name,
    url: Url,
    secret: Type.Optional(SigningSecret),
    events: EventList,
    filters: Type.Optional(WebhookFiltersInput),
    enabled: Type.Optional(Type.Boolean()),
    signature_scheme: Type.Optional(Scheme),
  },
  { additionalProperties: false },
);
export type CreateWebhookBody = Static<typeof CreateWebhookBody>;

export const PatchWebhookBody = Type.Object(
  {
    name: Type.Optional(Name),
    url: Type.Optional(Url),
    secret: Type.Optional(SigningSecret),
    previous_secret_ttl: Type.Optional(Type.String({ maxLength: 32 })),
    events: Type.Optional(EventList),
    filters: Type.Optional(WebhookFiltersInput),
    enabled: Type.Optional(Type.Boolean()),
    signature_scheme: Type.Optional(Scheme),
  },
  { additionalProperties: false },
);
export type PatchWebhookBody = Static<typeof PatchWebhookBody>;

export const DeliveryInput = Type.Object(
  {
    type: Type.Union([Type.Literal("webhook"), Type.Literal("polling")]),
    url: Type.Optional(Url),
    secret: Type.Optional(SigningSecret),
    signature_scheme: Type.Optional(Scheme),
    buffer_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  },
  { additionalProperties: false },
);

export const CreateSubscriptionBody = Type.Object(
  {
    name: Name,
    paths: Type.Array(Type.String({ minLength: 1, maxLength: 4096, description: "SPEC §4 globs (over 512 characters: invalid_glob)" }), { minItems: 1, maxItems: 100 }),
    events: EventList,
    delivery: DeliveryInput,
    filters: Type.Optional(WebhookFiltersInput),
  },
  { additionalProperties: false },
);
export type CreateSubscriptionBody = Static<typeof CreateSubscriptionBody>;

export const PatchSubscriptionBody = Type.Object(
  {
    name: Type.Optional(Name),
    paths: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 4096, description: "SPEC §4 globs (over 512 characters: invalid_glob)" }), { minItems: 1, maxItems: 100 })),
    events: Type.Optional(EventList),
    delivery: Type.Optional(DeliveryInput),
    filters: Type.Optional(WebhookFiltersInput),
    status: Type.Optional(Type.Union([Type.Literal("active"), Type.Literal("disabled")])),
  },
  { additionalProperties: false },
);
export type PatchSubscriptionBody = Static<typeof PatchSubscriptionBody>;

export const ListQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })), cursor: Type.Optional(Type.String({ maxLength: 512 })) },
  { additionalProperties: false },
);
export type ListQuery = Static<typeof ListQuery>;

export const DeliveriesQuery = Type.Object(
  {
    status: Type.Optional(Type.Union([Type.Literal("success"), Type.Literal("failed"), Type.Literal("pending")])),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);
export type DeliveriesQuery = Static<typeof DeliveriesQuery>;

export const PollQuery = Type.Object(
  {
    timeout: Type.Optional(Type.Integer({ minimum: 0, maximum: 60, default: 30 })),
    since_event_id: Type.Optional(Type.String({ maxLength: 64 })),
    max_events: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);
export type PollQuery = Static<typeof PollQuery>;

export const AckBody = Type.Object({ event_ids: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 1000 }) }, { additionalProperties: false });
export type AckBody = Static<typeof AckBody>;

export const StreamQuery = Type.Object(
  {
    paths: Type.Optional(Type.String({ maxLength: 4096, description: "comma-separated path globs" })),
    events: Type.Optional(Type.String({ maxLength: 2048, description: "comma-separated event types or families" })),
    last_event_id: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type StreamQuery = Static<typeof StreamQuery>;

export const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
export const DeliveryParams = Type.Object({ id: Type.String({ maxLength: 64 }), deliveryId: Type.String({ maxLength: 64 }) });
