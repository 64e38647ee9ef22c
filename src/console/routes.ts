import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import type { Principal } from "../access/principal.js";
import type { RequestLimits } from "../http/pipeline.js";
import type { ConsoleSessions, SessionView } from "./sessions.js";

const tags = ["console"];
const LoginBody = Type.Object({ token: Type.String({ minLength: 1, maxLength: 8192 }) }, { additionalProperties: false });
const SessionAnswer = Type.Object({
  identity_id: Type.String(),
  identity_type: Type.String(),
  display_name: Type.Union([Type.String(), Type.Null()]),
  tenant_id: Type.Union([Type.String(), Type.Null()]),
  partner_id: Type.String(),
  scopes: Type.Array(Type.String()),
  roles: Type.Array(Type.String()),
  expires_at: Type.String(),
  csrf_token: Type.String(),
});

function view(session: SessionView): Static<typeof SessionAnswer> {
  const p = session.principal;
  return {
    identity_id: p.identityId,
    identity_type: p.identityType,
    display_name: p.displayName,
    tenant_id: p.tenantId,
    partner_id: p.partnerId,
    scopes: [...p.scopes].sort(),
    roles: [...p.roles],
    expires_at: new Date(session.expiresAt).toISOString(),
    csrf_token: session.csrfToken,
  };
}

/** The audit entry of a session call belongs to the credential's identity and tenant. */
function attribute(request: FastifyRequest, principal: Principal): void {
  request.vault.principal = principal;
  request.vault.via = "console";
  request.vault.tenant = principal.tenantId ? { tenantId: principal.tenantId, partnerId: principal.partnerId } : null;
}

/**
 * `POST|GET|DELETE /v1/ui/session` (spec/console.md §2). They authenticate themselves (the token
 * in the body, or the cookie), so the pipeline's bearer check is off for them.
 */
export function registerSessionRoutes(app: FastifyInstance, sessions: ConsoleSessions, limits?: RequestLimits): void {
  app.post<{ Body: Static<typeof LoginBody> }>(
    "/v1/ui/session",
    { schema: { tags, summary: "Console sign-in: a token becomes an HttpOnly session cookie", body: LoginBody, response: { 201: SessionAnswer } }, config: { auth: false, action: "ui_login" } },
    async (request, reply) => {
      let session;
      try {
        session = await sessions.create(request, request.body.token, reply);
      } catch (error) {
        // A wrong token is charged to the source IP like any failed authentication.
        await limits?.chargeFailedAuth(request, reply, error);
        throw error;
      }
      attribute(request, session.principal);
      return reply.code(201).send(view(session));
    },
  );

  app.get(
    "/v1/ui/session",
    { schema: { tags, summary: "The current console session and its CSRF token", response: { 200: SessionAnswer } }, config: { auth: false, publicRate: true, action: "ui_session" } },
    // Charged to the source's public budget, not its failed-authentication one: a console opened
    // before signing in asks here and is answered 401 in ordinary use.
    async (request) => {
      const session = await sessions.authenticate(request, false);
      attribute(request, session.principal);
      return view(session);
    },
  );

  app.delete(
    "/v1/ui/session",
    { schema: { tags, summary: "Console sign-out" }, config: { auth: false, publicRate: true, action: "ui_logout" } },
    async (request, reply) => {
      const principal = await sessions.destroy(request, reply);
      if (principal) attribute(request, principal);
      return reply.code(204).send();
    },
  );
}
