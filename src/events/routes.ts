import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { callerOf } from "../http/pipeline.js";
import {
  AckBody, CreateSubscriptionBody, CreateWebhookBody, DeliveriesQuery, DeliveryParams, IdParams, ListQuery, PatchSubscriptionBody, PatchWebhookBody, PollQuery, StreamQuery,
} from "./schemas.js";
import type { EventStreams } from "./stream.js";
import type { SubscriptionsService } from "./subscriptions-service.js";
import type { WebhooksService } from "./webhooks-service.js";

export function registerEventRoutes(app: FastifyInstance, webhooks: WebhooksService, subscriptions: SubscriptionsService, streams: EventStreams): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const wh = { tags: ["webhooks"] };
  const webhook = (action: string) => ({ scope: "admin" as const, action, category: "webhook" });

  r.get("/v1/webhooks", { schema: { ...wh, summary: "List webhooks", querystring: ListQuery }, config: webhook("webhook_list") }, async (request) => webhooks.list(callerOf(request), request.query));
  r.post("/v1/webhooks", { schema: { ...wh, summary: "Create a webhook", body: CreateWebhookBody }, config: webhook("webhook_create") }, async (request, reply) => {
    reply.code(201);
    return webhooks.create(callerOf(request), request.body);
  });
  r.get("/v1/webhooks/:id", { schema: { ...wh, summary: "Get a webhook with delivery statistics", params: IdParams }, config: webhook("webhook_read") }, async (request) => webhooks.get(callerOf(request), request.params.id));
  r.patch("/v1/webhooks/:id", { schema: { ...wh, summary: "Update a webhook or rotate its signing secret", params: IdParams, body: PatchWebhookBody }, config: webhook("webhook_update") }, async (request) =>
    webhooks.update(callerOf(request), request.params.id, request.body));
  r.delete("/v1/webhooks/:id", { schema: { ...wh, summary: "Delete a webhook", params: IdParams }, config: webhook("webhook_delete") }, async (request) => webhooks.remove(callerOf(request), request.params.id));
  r.post("/v1/webhooks/:id/test", { schema: { ...wh, summary: "Send a webhook.test event now", params: IdParams }, config: webhook("webhook_test") }, async (request) => webhooks.test(callerOf(request), request.params.id));
  r.get("/v1/webhooks/:id/deliveries", { schema: { ...wh, summary: "The webhook's deliveries", params: IdParams, querystring: DeliveriesQuery }, config: webhook("webhook_deliveries") }, async (request) =>
    webhooks.deliveries(callerOf(request), request.params.id, request.query));
  r.post("/v1/webhooks/:id/deliveries/:deliveryId/redeliver", { schema: { ...wh, summary: "Deliver an event again", params: DeliveryParams }, config: webhook("webhook_redeliver") }, async (request, reply) => {
    reply.code(202);
    return webhooks.redeliver(callerOf(request), request.params.id, request.params.deliveryId);
  });

  const sb = { tags: ["subscriptions"] };
  const read = (action: string, category = "subscription") => ({ scope: "subscriptions:read" as const, action, category });
  const write = (action: string) => ({ scope: "subscriptions:write" as const, action, category: "subscription" });
  r.get("/v1/subscriptions", { schema: { ...sb, summary: "List subscriptions", querystring: ListQuery }, config: read("subscription_list") }, async (request) => subscriptions.list(callerOf(request), request.query));
  r.post("/v1/subscriptions", { schema: { ...sb, summary: "Create a subscription", body: CreateSubscriptionBody }, config: write("subscription_create") }, async (request, reply) => {
    reply.code(201);
    return subscriptions.create(callerOf(request), request.body);
  });
  r.get("/v1/subscriptions/:id", { schema: { ...sb, summary: "Get a subscription", params: IdParams }, config: read("subscription_read") }, async (request) => subscriptions.get(callerOf(request), request.params.id));
  r.patch("/v1/subscriptions/:id", { schema: { ...sb, summary: "Update a subscription", params: IdParams, body: PatchSubscriptionBody }, config: write("subscription_update") }, async (request) =>
    subscriptions.update(callerOf(request), request.params.id, request.body));
  r.delete("/v1/subscriptions/:id", { schema: { ...sb, summary: "Delete a subscription", params: IdParams }, config: write("subscription_delete") }, async (request) => subscriptions.remove(callerOf(request), request.params.id));
  r.get("/v1/subscriptions/:id/poll", { schema: { ...sb, summary: "Long-poll for events (owner only)", params: IdParams, querystring: PollQuery }, config: { ...read("subscription_poll", "subscription_poll"), longLived: true } }, async (request) =>
    subscriptions.poll(callerOf(request), request.params.id, request.query));
  r.post("/v1/subscriptions/:id/ack", { schema: { ...sb, summary: "Acknowledge polled events (owner only)", params: IdParams, body: AckBody }, config: read("subscription_ack", "subscription_poll") }, async (request) =>
    subscriptions.ack(callerOf(request), request.params.id, request.body));
  r.get("/v1/subscriptions/:id/deliveries", { schema: { ...sb, summary: "Webhook deliveries of a subscription", params: IdParams, querystring: DeliveriesQuery }, config: read("subscription_deliveries") }, async (request) =>
    subscriptions.deliveries(callerOf(request), request.params.id, request.query));
  r.post("/v1/subscriptions/:id/deliveries/:deliveryId/redeliver", { schema: { ...sb, summary: "Deliver an event again", params: DeliveryParams }, config: write("subscription_redeliver") }, async (request, reply) => {
    reply.code(202);
    return { delivery_id: await subscriptions.redeliver(callerOf(request), request.params.id, request.params.deliveryId), status: "pending" };
  });

  r.get("/v1/events/stream", {
    schema: { tags: ["events"], summary: "Server-Sent Events of the tenant's events the caller may read", querystring: StreamQuery },
    config: { scope: "secrets:read", action: "event_stream", category: "subscription_poll", longLived: true },
  }, async (request, reply) => streams.serve(request as never, reply));
}
