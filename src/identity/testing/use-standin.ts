import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import type { ApiClient } from "../../testing/harness.js";
import { ScaiKeyStandIn, type DirectoryFixture } from "./scaikey-standin.js";

export const CLIENT = { client_id: "scaivault-sync", client_secret: "standin-client-secret-0123456789" };
export const WEBHOOK_SECRET = "whsec_standin_0123456789abcdef";

/** The directory most suites start from: the bootstrap partner and tenant as ScaiKey knows them. */
export function baseFixture(): DirectoryFixture {
  return {
    clients: [CLIENT],
    partners: [{ id: "ptn_default", name: "Acme", slug: "acme", region: "eu-west-1", status: "ACTIVE" }],
    tenants: [
      { id: "tnt_default", partner_id: "ptn_default", name: "Acme prod", slug: "acme-prod", status: "ACTIVE" },
      { id: "tnt_two", partner_id: "ptn_default", name: "Acme dev", slug: "acme-dev", status: "ACTIVE" },
    ],
    users: [
      { id: "usr_alice", tenant_id: "tnt_default", email: "alice@acme.example", display_name: "Alice", status: "ACTIVE", mfa_enabled: true, roles: [] },
      { id: "usr_bob", tenant_id: "tnt_default", email: "bob@acme.example", display_name: "Bob", status: "ACTIVE", mfa_enabled: false, roles: [] },
      { id: "usr_dave", tenant_id: "tnt_two", email: "dave@acme.example", display_name: "Dave", status: "ACTIVE", mfa_enabled: false, roles: [] },
    ],
    groups: [
      { id: "grp_sre", tenant_id: "tnt_default", name: "sre", description: "Site reliability", status: "ACTIVE" },
      { id: "grp_platform", tenant_id: "tnt_default", name: "platform", description: "Platform (contains sre)", status: "ACTIVE" },
      { id: "grp_oncall", tenant_id: "tnt_default", name: "oncall", description: "On call", status: "ACTIVE" },
    ],
    memberships: [
      { group_id: "grp_sre", member_type: "user", member_id: "usr_alice" },
      { group_id: "grp_platform", member_type: "group", member_id: "grp_sre" },
      { group_id: "grp_oncall", member_type: "user", member_id: "usr_bob" },
      { group_id: "grp_oncall", member_type: "application", member_id: "app_ci" },
    ],
    applications: [{ id: "app_ci", tenant_id: "tnt_default", client_id: "ci-bot", name: "CI bot", type: "SERVICE", status: "ACTIVE" }],
  };
}

/**
 * For a describe block: the ScaiKey stand-in started before the vault (register before useVault)
 * and `env` filled with the settings that point the vault at it.
 */
export function useStandIn(fixture: () => DirectoryFixture = baseFixture, extraEnv: Record<string, string> = {}): { env: Record<string, string>; standIn: () => ScaiKeyStandIn } {
  const env: Record<string, string> = {};
  let standIn: ScaiKeyStandIn | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "scaikey-standin-"));
    standIn = await ScaiKeyStandIn.start(join(dir, "directory.json"), fixture());
    Object.assign(env, {
      SCAIKEY_URL: standIn.url, SCAIKEY_AUDIENCE: "scaivault", SCAIKEY_CLIENT_ID: CLIENT.client_id, SCAIKEY_CLIENT_SECRET: CLIENT.client_secret,
      SCAIKEY_WEBHOOK_SECRET: WEBHOOK_SECRET, SCAIVAULT_IDENTITY_SYNC_INTERVAL: "off", SCAIKEY_JWKS_COOLDOWN_SECONDS: "0", ...extraEnv,
    });
  });
  afterAll(async () => {
    await standIn?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return { env, standIn: () => standIn! };
}

/** Polls a sync until it ends (observable state, generous bound); answers the finished sync. */
export async function waitForSync(client: ApiClient, syncId: string, boundMs = 30_000): Promise<any> {
  const until = Date.now() + boundMs;
  for (;;) {
    const response = await client.get(`/v1/identity/sync/${syncId}`);
    expect(response.status).toBe(200);
    if (response.body.status === "completed" || response.body.status === "failed") return response.body;
    if (Date.now() > until) throw new Error(`sync ${syncId} still ${response.body.status} after ${boundMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Asks for a sync and waits for one that started after the ask to finish (a running one is rerun-free, so ask again). */
export async function syncNow(client: ApiClient, query = ""): Promise<any> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const asked = Date.now();
    const response = await client.post(`/v1/identity/sync${query}`);
    expect(response.status).toBe(202);
    const done = await waitForSync(client, response.body.sync_id);
    if (Date.parse(done.started_at) >= asked - 5) return done;
  }
  throw new Error("no fresh sync ran");
}

/** The startup sync's record, once the node has claimed it (it may retry on a busy database). */
export async function startupSync(client: ApiClient, boundMs = 30_000): Promise<any> {
  const until = Date.now() + boundMs;
  for (;;) {
    const history = await client.get("/v1/identity/sync/history");
    expect(history.status).toBe(200);
    const startup = history.body.syncs.find((s: { trigger: string }) => s.trigger === "startup");
    if (startup) return startup;
    if (Date.now() > until) throw new Error("no startup sync was recorded");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
