import type { FastifyRequest } from "fastify";
import type { Principal } from "../access/principal.js";

/**
 * A public route (no token: CA certificates, CRLs, OCSP, SSH CA keys and KRLs, ACME challenges)
 * is audited in the tenant that owns what it serves, as identity `anonymous` (spec/pki.md P1),
 * so the owner sees who fetched it and from where.
 */
export function auditAnonymously(request: FastifyRequest, owner: { partner_id: string; tenant_id: string }, extra: Record<string, unknown>): void {
  const ctx = request.vault;
  ctx.tenant = { tenantId: owner.tenant_id, partnerId: owner.partner_id };
  ctx.principal = {
    identityId: "anonymous", identityType: null as unknown as Principal["identityType"], displayName: null, partnerId: owner.partner_id, tenantId: owner.tenant_id,
    scopes: new Set(), groups: [], roles: [], mfaVerifiedAt: null, tokenExpiresAt: null, tokenKind: "system", tokenId: null,
  };
  ctx.audit.extra = extra;
}
