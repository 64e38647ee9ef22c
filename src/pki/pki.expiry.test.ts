import { expect, it } from "vitest";
import { EventOutbox } from "../events/outbox.js";
import { ExpiryNotifier } from "./expiry.js";
import { waitFor } from "../rotation/testing.js";
import { describeEachBackend } from "../testing/backends.js";
import { useSecondNode, useVault } from "../testing/harness.js";
import { created, hierarchy } from "./testing.js";

function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Two nodes share the database and both run the notifier: every notice must still fire once. */
describeEachBackend("pki: expiry notices once across nodes, certificate metrics", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_PKI_NOTIFY_BEFORE: "15s", SCAIVAULT_SCHEDULER_POLL: "200ms" } });
  useSecondNode(vault);

  it("announces certificate.expiring at the threshold and certificate.expired at not_after, once each; revoked ones stay silent", async () => {
    const { admin, vault: v } = vault();
    const h = await hierarchy(admin, "exp", { allowed_domains: ["exp.internal"], allow_subdomains: true, max_ttl: "20s" });
    const silenced = await created(admin.post(`/v1/pki/issue/${h.role.name}`, { common_name: "revoked.exp.internal" }));
    expect((await admin.post(`/v1/pki/certificates/${silenced.id}/revoke`, { reason: "superseded" })).status).toBe(200);
    const watched = await created(admin.post(`/v1/pki/issue/${h.role.name}`, { common_name: "short.exp.internal" }));
    const notices = async () =>
      (await v.db.all<{ event_type: string; data: string }>("SELECT event_type, data FROM events WHERE event_type IN ('certificate.expiring', 'certificate.expired') ORDER BY id"))
        .map((e) => ({ type: e.event_type, data: JSON.parse(e.data) }));
    // Generous bound: the certificate lives 20 s.
    await waitFor("certificate.expired", async () => (await notices()).some((n) => n.type === "certificate.expired"), 120_000);
    // Later passes must not repeat anything: a marker certificate living 3 s has expired (and been
    // announced) only after both nodes polled many more times (every 200 ms).
    const marker = await created(admin.post(`/v1/pki/issue/${h.role.name}`, { common_name: "marker.exp.internal", ttl: "3s" }));
    await waitFor("the marker's certificate.expired", async () => (await notices()).some((n) => n.type === "certificate.expired" && n.data.certificate_id === marker.id), 120_000);
    const all = await notices();
    expect(all.filter((n) => n.data.certificate_id === silenced.id)).toEqual([]);
    const mine = all.filter((n) => n.data.certificate_id === watched.id);
    expect(mine.map((n) => n.type)).toEqual(["certificate.expiring", "certificate.expired"]);
    expect(mine[0].data).toMatchObject({ threshold: "15s", serial_number: watched.serial_number, common_name: "short.exp.internal", ca_id: h.int.id, role: h.role.name, source: "issue" });
    expect(mine[1].data.not_after).toBe(watched.not_after);
  }, 180_000);

  it("exports scaivault_certificates_active and scaivault_certificates_expiring_soon", async () => {
    const { admin, anonymous } = vault();
    const h = await hierarchy(admin, "met", { allowed_domains: ["met.internal"], allow_subdomains: true, max_ttl: "72h" });
    await created(admin.post(`/v1/pki/issue/${h.role.name}`, { common_name: "a.met.internal" }));
    const gone = await created(admin.post(`/v1/pki/issue/${h.role.name}`, { common_name: "b.met.internal" }));
    await created(admin.post(`/v1/pki/issue/${h.role.name}`, { common_name: "c.met.internal" }));
    await admin.post(`/v1/pki/certificates/${gone.id}/revoke`, { reason: "superseded" });
    const text = (await anonymous.get("/v1/metrics")).text;
    expect(sample(text, `scaivault_certificates_active{ca_id="${h.int.id}"}`)).toBe(2);
    expect(sample(text, 'scaivault_certificates_expiring_soon{within_days="7"}')).toBeGreaterThanOrEqual(2);
  });
});

/**
 * The claim itself, raced: two notifiers (two nodes) read the same due notice before either
 * commits; the conditional UPDATE lets exactly one of them store the event.
 */
describeEachBackend("pki: two notifiers racing for one notice", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_PKI_NOTIFY_BEFORE: "1d", SCAIVAULT_SCHEDULER: "false" } });

  it("stores one certificate.expiring however the passes interleave", async () => {
    const { admin, vault: v } = vault();
    const h = await hierarchy(admin, "race", { allowed_domains: ["race.internal"], allow_subdomains: true, max_ttl: "48h" });
    const cert = await created(admin.post(`/v1/pki/issue/${h.role.name}`, { common_name: "a.race.internal" }));
    const log = { warn: () => undefined } as never;
    const notifier = () => new ExpiryNotifier({ db: v.db, events: new EventOutbox(v.db), thresholdsMs: [86_400_000], pollMs: 60_000, log });
    const inThreshold = Date.parse(cert.not_after) - 3_600_000;
    await Promise.all([notifier().pass(inThreshold, true), notifier().pass(inThreshold, true), notifier().pass(inThreshold, true)]);
    const events = await v.db.all<{ data: string }>("SELECT data FROM events WHERE event_type = 'certificate.expiring'");
    expect(events.map((e) => JSON.parse(e.data).certificate_id)).toEqual([cert.id]);
    expect(JSON.parse(events[0].data).threshold).toBe("1d");
  });
});
