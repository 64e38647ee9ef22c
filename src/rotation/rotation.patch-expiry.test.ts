import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";

/**
 * A metadata PATCH that sets, changes or clears a secret's expiry moves its expiry watch in the
 * PATCH's own transaction, as a PUT does. It used to wait for the scheduler's reconciliation pass
 * (every SCAIVAULT_SCHEDULER_RECONCILE, on a node that runs the scheduler): here none runs.
 */
describeEachBackend("rotation: a metadata PATCH moves the expiry watch at once", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_SCHEDULER: "false" } });

  it("sets, changes and clears the watch with the secret's expiry and thresholds", async () => {
    const { admin, vault: server } = vault();
    const watchOf = () =>
      server.db.get<{ expires_at: number | string; notify_before: string | null }>("SELECT expires_at, notify_before FROM secret_expiry_watch WHERE tenant_id = 'tnt_default' AND path = 'app/expiring'");
    const expiresAt = async () => Number((await server.db.get<{ expires_at: number | string }>("SELECT expires_at FROM secrets WHERE tenant_id = 'tnt_default' AND path = 'app/expiring'"))!.expires_at);
    expect((await admin.put("/v1/secrets/app/expiring", { data: { v: 1 } })).status).toBe(201);
    expect(await watchOf()).toBeUndefined();

    expect((await admin.patch("/v1/secrets/app/expiring/metadata", { options: { expires_in: "30d", notify_before: "7d,1d" } })).status).toBe(200);
    const first = await watchOf();
    expect(first && { expires_at: Number(first.expires_at), notify_before: first.notify_before }).toEqual({ expires_at: await expiresAt(), notify_before: "7d,1d" });

    expect((await admin.patch("/v1/secrets/app/expiring/metadata", { options: { notify_before: "1d" } })).status).toBe(200);
    expect((await watchOf())?.notify_before).toBe("1d");

    expect((await admin.patch("/v1/secrets/app/expiring/metadata", { options: { expires_in: null } })).status).toBe(200);
    expect(await watchOf()).toBeUndefined();
  });
});
