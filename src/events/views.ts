import { isoMicros, isoOrNull } from "../shared/time.js";
import type { DeliveryRow } from "./delivery-store.js";
import type { SubscriptionRow, WebhookRow } from "./targets-store.js";

/** What the API shows of a webhook: never its signing secret, current or previous. */
export function webhookView(row: WebhookRow) {
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    filters: JSON.parse(row.filters) as Record<string, unknown>,
    enabled: row.enabled === 1,
    status: row.enabled === 1 ? "healthy" : "disabled",
    disabled_reason: row.enabled === 1 ? null : row.disabled_reason,
    signature_scheme: row.signature_scheme,
    previous_secret_expires_at: row.previous_secret_expires_at && row.previous_secret_expires_at > Date.now() ? isoOrNull(row.previous_secret_expires_at) : null,
    created_by: row.created_by,
    created_at: isoOrNull(row.created_at),
    updated_at: isoOrNull(row.updated_at),
  };
}

export function subscriptionView(row: SubscriptionRow) {
  const delivery: Record<string, unknown> = { type: row.delivery_type };
  if (row.delivery_type === "webhook") Object.assign(delivery, { url: row.url, signature_scheme: row.signature_scheme });
  else delivery.buffer_size = row.buffer_size;
  return {
    id: row.id,
    name: row.name,
    paths: JSON.parse(row.paths) as string[],
    events: JSON.parse(row.events) as string[],
    filters: JSON.parse(row.filters) as Record<string, unknown>,
    delivery,
    status: row.status,
    identity_id: row.owner_id,
    created_at: isoOrNull(row.created_at),
    updated_at: isoOrNull(row.updated_at),
  };
}

export function deliveryView(row: DeliveryRow) {
  return {
    id: row.id,
    event_id: row.event_id,
    event_type: row.event_type,
    path: row.ordering_key === "" ? null : row.ordering_key,
    timestamp: isoMicros(Number(row.created_at)),
    status: row.status,
    attempts: row.attempts,
    response_code: row.response_code,
    error: row.last_error,
    duration_ms: row.duration_ms,
    next_attempt_at: row.status === "pending" ? isoOrNull(row.next_attempt_at) : null,
    delivered_at: isoOrNull(row.delivered_at),
  };
}
