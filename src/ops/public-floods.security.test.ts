import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";

const LIMIT = 5;
const SENT = 30;

/**
 * Routes anyone may call without a token — the ScaiKey webhook receiver, the console's session
 * check and sign-out, the token exchange — are charged to their source address before any work.
 * Past the budget they answer 429 and the refusals join the source's coalesced flood record: a
 * flood from one address adds at most a budget's worth of audit entries, not one per request.
 */
describeEachBackend("unauthenticated routes: a flood from one address is bounded in the audit trail", (backend) => {
  const vault = useVault(backend, {
    env: { RATE_LIMIT_PUBLIC: String(LIMIT), RATE_LIMIT_EXCHANGE: String(LIMIT), RATE_LIMIT_AUTH_FAILURE: String(LIMIT), SCAIKEY_WEBHOOK_SECRET: "whsec-test-only" },
  });

  const routes: Array<{ action: string; send: (baseUrl: string) => Promise<Response> }> = [
    { action: "scaikey_webhook", send: (url) => fetch(`${url}/v1/identity/webhooks/scaikey`, { method: "POST", headers: { "content-type": "application/json", "x-scaikey-signature": "t=1,v1=00" }, body: JSON.stringify({ event_id: "evt_x", event_type: "user.updated" }) }) },
    { action: "ui_session", send: (url) => fetch(`${url}/v1/ui/session`) },
    { action: "ui_logout", send: (url) => fetch(`${url}/v1/ui/session`, { method: "DELETE" }) },
    { action: "openapi", send: (url) => fetch(`${url}/v1/openapi.json`) },
    { action: "token_exchange", send: (url) => fetch(`${url}/v1/auth/exchange`, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer not-a-credential" }, body: JSON.stringify({ subject_token: "x.y.z" }) }) },
  ];

  for (const route of routes) {
    it(`${route.action}: refused past the budget, its refusals not audited one by one`, async () => {
      const { baseUrl, vault: server } = vault();
      const audited = async () => Number((await server.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM audit_log WHERE action = ?", [route.action]))?.n ?? 0);
      const before = await audited();
      const statuses: number[] = [];
      for (let i = 0; i < SENT; i++) statuses.push((await route.send(baseUrl)).status);
      expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(SENT - 2 * LIMIT);
      expect(statuses.filter((status) => status >= 500)).toEqual([]);
      expect((await audited()) - before).toBeLessThanOrEqual(2 * LIMIT);
    });
  }
});
