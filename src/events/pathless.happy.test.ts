import { beforeAll, describe, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient } from "../testing/harness.js";
import { domainScopeOf, mayReceivePathless } from "./catalogue.js";
import { eventually } from "./test-receiver.js";

const FAST = { SCAIVAULT_EVENTS_POLL_INTERVAL: "100ms" };

describe("events about no path: who may receive them (SPEC §7)", () => {
  it("names each domain's scope, and admin for the rest", () => {
    expect(domainScopeOf("policy.created")).toBe("policies:read");
    expect(domainScopeOf("policy.binding.deleted")).toBe("policies:read");
    expect(domainScopeOf("identity.sync.completed")).toBe("identity:read");
    expect(domainScopeOf("certificate.issued")).toBe("pki:admin");
    expect(domainScopeOf("csr.submitted")).toBe("pki:admin");
    expect(domainScopeOf("ca.created")).toBe("pki:admin");
    expect(domainScopeOf("lease.revoke_failed")).toBe("dynamic:manage");
    expect(domainScopeOf("engine.root_rotated")).toBe("dynamic:manage");
    expect(domainScopeOf("rotation.failed")).toBe("admin");
    expect(mayReceivePathless(new Set(["policies:read"]), "policy.created")).toBe(true);
    expect(mayReceivePathless(new Set(["policies:read"]), "lease.created")).toBe(false);
    expect(mayReceivePathless(new Set(["admin"]), "lease.created")).toBe(true);
    expect(mayReceivePathless(new Set(), "policy.created")).toBe(false);
  });
});

/** A polling subscriber to `policy.*` holding `scopes` besides the subscription scopes. */
async function subscriber(admin: ApiClient, id: string, scopes: string[]): Promise<{ client: ApiClient; subId: string }> {
  const token = await admin.post("/v1/auth/tokens", { identity_id: id, identity_type: "service_account", scopes: ["subscriptions:read", "subscriptions:write", ...scopes] });
  expect(token.status).toBe(201);
  const client = admin.withToken(token.body.token);
  const created = await client.post("/v1/subscriptions", { name: `policies-${id}`, paths: ["**"], events: ["policy.*"], delivery: { type: "polling" } });
  expect(created.status).toBe(201);
  return { client, subId: created.body.id };
}

describeEachBackend("events about no path reach subscriptions whose owner holds the domain's scope", (backend) => {
  const vault = useVault(backend, { env: FAST });
  let scoped: { client: ApiClient; subId: string };
  let unscoped: { client: ApiClient; subId: string };
  beforeAll(async () => {
    scoped = await subscriber(vault().admin, "sa:policy-watcher", ["policies:read"]);
    unscoped = await subscriber(vault().admin, "sa:secret-reader", ["secrets:read"]);
  });

  it("delivers policy.created with path null to the owner holding policies:read, and not to one without it", async () => {
    const policy = await vault().admin.post("/v1/policies", { name: "pathless-events", rules: [{ path_pattern: "x/**", permissions: ["read"] }] });
    expect(policy.status).toBe(201);
    const got = await eventually(
      () => scoped.client.get(`/v1/subscriptions/${scoped.subId}/poll?timeout=1`),
      (res) => res.body.events.some((e: { event_type: string }) => e.event_type === "policy.created"),
    );
    const event = got.body.events.find((e: { event_type: string }) => e.event_type === "policy.created");
    expect(event).toMatchObject({ event_type: "policy.created", path: null, tenant_id: "tnt_default" });
    // The fan-out decides every subscription of an event in the same pass: the other one was passed over.
    const other = await unscoped.client.get(`/v1/subscriptions/${unscoped.subId}/poll?timeout=0`);
    expect(other.status).toBe(200);
    expect(other.body.events).toEqual([]);
  });
});
