import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresAvailable } from "../../testing/backends.js";
import { useSecondNode, useVault } from "../../testing/harness.js";
import { freePortSync } from "../../testing/ports.js";
import { created } from "../testing.js";
import { orderIn, PebbleTls, removeTls, startPebble, type Pebble } from "./testing/pebble.js";

/**
 * Two nodes on one PostgreSQL database both run the order worker: every automatic renewal of
 * 120-second certificates happens once (one certificate, one secret version, one event, one audit
 * entry each). Pebble validates http-01 on the ACME-only listener (SCAIVAULT_ACME_HTTP_ADDRESS).
 */
describe.skipIf(!postgresAvailable())("acme: automatic renewal once across two nodes [postgres]", () => {
  const tls = new PebbleTls();
  const acmePort = freePortSync();
  const vault = useVault("postgres", { env: { ...tls.vaultEnv, SCAIVAULT_SCHEDULER_POLL: "200ms", SCAIVAULT_ACME_HTTP_ADDRESS: `127.0.0.1:${acmePort}` } });
  const second = useSecondNode(vault);
  let pebble: Pebble;

  beforeAll(async () => {
    pebble = await startPebble(tls, { httpPort: acmePort });
  }, 90_000);
  afterAll(async () => {
    await pebble?.stop();
    removeTls(tls);
  });

  it("renews each certificate once, however many nodes run the worker", async () => {
    const { admin, vault: v } = vault();
    const account = await created(admin.post("/v1/pki/acme/accounts", { name: "pebble", provider: "custom", directory_url: pebble.directoryUrl }));
    // Ordered through the second node: the order is the database's, not a node's.
    const order = await created(second().post("/v1/pki/acme/orders", { account_id: account.id, domains: ["renew.example.test"], challenge_type: "http-01", renew_before: "30d" }));
    const first = await orderIn(admin, order.id, ["valid", "invalid"]);
    expect(first.error, pebble.output()).toBeNull();
    expect(first.status).toBe("valid");
    // ⅔ of pebble's 120 s lifetime (not_after is inclusive: 119 s apart) is shorter than 30d.
    const cert = (await admin.get(`/v1/pki/certificates/${first.certificate_id}`)).body;
    const life = Date.parse(cert.not_after) - Date.parse(cert.not_before);
    expect(Date.parse(first.not_after) - Date.parse(first.next_renewal_at)).toBe(Math.floor((life * 2) / 3));
    // Two automatic renewals (each ~40 s after the previous certificate).
    await orderIn(admin, order.id, ["valid"], 240_000, (o) => o.renewals >= 2);
    // One statement, one snapshot: a renewal commits its certificate, version, event and audit entry together.
    const counts = await v.db.get<{ certs: number; versions: number; renewed: number; audited: number; renewals: number }>(
      `SELECT (SELECT COUNT(*) FROM pki_certificates WHERE order_id = ?) AS certs,
              (SELECT current_version FROM secrets WHERE path = 'pki/acme/renew.example.test') AS versions,
              (SELECT COUNT(*) FROM events WHERE event_type = 'certificate.renewed') AS renewed,
              (SELECT COUNT(*) FROM audit_log WHERE action = 'acme_order_renew') AS audited,
              (SELECT renewals FROM acme_orders WHERE id = ?) AS renewals`, [order.id, order.id]);
    const n = { certs: Number(counts!.certs), versions: Number(counts!.versions), renewed: Number(counts!.renewed), audited: Number(counts!.audited), renewals: Number(counts!.renewals) };
    expect(n.renewals).toBeGreaterThanOrEqual(2);
    expect(n).toEqual({ certs: n.renewals + 1, versions: n.renewals + 1, renewed: n.renewals, audited: n.renewals, renewals: n.renewals });
    const serials = await v.db.all<{ serial_number: string }>("SELECT serial_number FROM pki_certificates WHERE order_id = ?", [order.id]);
    expect(new Set(serials.map((s) => s.serial_number)).size).toBe(serials.length);
  }, 360_000);
});
