import type { FastifyInstance } from "fastify";
import type { RequestLimits } from "../http/pipeline.js";
import { createHmac, timingSafeEqual } from "node:crypto";
import { VaultError } from "../http/errors.js";
import type { IdentityStore } from "./store.js";
import type { IdentitySync } from "./sync.js";

const TOLERANCE_SECONDS = 300;
const FAMILIES = ["partner.", "tenant.", "user.", "group.", "group_membership.", "application."];
const SIGNATURE = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/;

/** `X-ScaiKey-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, fresh within 5 minutes. */
export function verifyScaiKeySignature(secret: string, header: unknown, raw: Buffer, now = Date.now()): boolean {
  const match = typeof header === "string" ? SIGNATURE.exec(header.trim()) : null;
  if (!match || Math.abs(now / 1000 - Number(match[1])) > TOLERANCE_SECONDS) return false;
  const expected = createHmac("sha256", secret).update(`${match[1]}.`).update(raw).digest();
  return timingSafeEqual(expected, Buffer.from(match[2], "hex"));
}

export function signScaiKeyWebhook(secret: string, body: string, at = Math.floor(Date.now() / 1000)): string {
  return `t=${at},v1=${createHmac("sha256", secret).update(`${at}.${body}`).digest("hex")}`;
}

/**
 * `POST /v1/identity/webhooks/scaikey`: ScaiKey's events (no bearer; the signature authenticates).
 * Registered in its own context so the body reaches us as the exact bytes that were signed.
 */
export function registerScaiKeyWebhook(app: FastifyInstance, deps: { secret: string | null; store: IdentityStore; sync: IdentitySync; limits?: RequestLimits }): void {
  void app.register(async (child) => {
    child.removeAllContentTypeParsers();
    child.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
    child.post("/v1/identity/webhooks/scaikey", { schema: { tags: ["identity"], summary: "Receiver for ScaiKey's signed directory events" }, config: { auth: false, publicRate: true, action: "scaikey_webhook", category: "identity_sync" } }, async (request, reply) => {
      // Anyone can post here: each request is charged to its source address before any work, and a
      // bad signature to its failed-authentication budget, so floods are coalesced, not audited each.
      if (!deps.secret) throw new VaultError("not_found", "No ScaiKey webhook secret is configured");
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      if (!verifyScaiKeySignature(deps.secret, request.headers["x-scaikey-signature"], raw)) {
        const refused = new VaultError("token_invalid", "The webhook signature is missing, wrong or stale");
        await deps.limits?.chargeFailedAuth(request, reply, refused);
        throw refused;
      }
      let event: { event_id?: unknown; event_type?: unknown; tenant_id?: unknown; partner_id?: unknown };
      try {
        event = JSON.parse(raw.toString("utf8")) as typeof event;
      } catch {
        throw new VaultError("invalid_request", "The webhook body must be JSON");
      }
      const eventId = typeof event.event_id === "string" ? event.event_id.slice(0, 200) : null;
      const type = typeof event.event_type === "string" ? event.event_type : "";
      request.vault.audit.extra = { event_id: eventId, event_type: type.slice(0, 100) };
      if (eventId && !(await deps.store.firstDelivery(eventId, Date.now()))) return reply.code(202).send({ received: true });
      if (FAMILIES.some((f) => type.startsWith(f)) && deps.sync.configured) {
        const tenantId = typeof event.tenant_id === "string" && !type.startsWith("partner.") ? event.tenant_id : null;
        const partnerId = typeof event.partner_id === "string" ? event.partner_id : tenantId ? ((await deps.store.getTenant(tenantId))?.partner_id ?? null) : null;
        let record;
        try {
          record = await deps.sync.request({ partnerId, scope: { partnerId, tenantId }, trigger: "webhook", triggeredBy: "system:scaikey-webhook" });
        } catch (error) {
          // Marked seen above but not acted on: ScaiKey retries a failed delivery with the same event_id.
          if (eventId) await deps.store.forgetDelivery(eventId).catch(() => undefined);
          throw error;
        }
        request.vault.audit.extra = { ...request.vault.audit.extra, sync_id: record.id };
      }
      return reply.code(202).send({ received: true });
    });
  });
}
