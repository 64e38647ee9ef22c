import { expect, it } from "vitest";
import { ALL_MIGRATIONS } from "../storage/migrations.js";
import { describeEachBackend, useScratchDatabase } from "../testing/backends.js";
import { PkiStore } from "./store.js";

/** Migration 0206 on a database that already holds certificates: each CA's count starts at what it issued. */
describeEachBackend("pki: issued counts on upgrade", (backend) => {
  const database = useScratchDatabase(backend, ALL_MIGRATIONS.filter((m) => m.id !== "0206_pki_issued_counts"));

  it("counts the certificates issued before it once per CA, and insertCert counts on from there", async () => {
    const db = database();
    const insert = (id: string, caId: string) =>
      db.run(
        `INSERT INTO pki_certificates (id, tenant_id, partner_id, ca_id, serial_number, alt_names, ip_sans, source, certificate_pem, not_before, not_after, created_by, created_at)
         VALUES (?, 'tnt_x', 'ptn_x', ?, ?, '[]', '[]', 'issue', 'pem', 0, 1, 'sa:x', 0)`,
        [id, caId, id],
      );
    for (let i = 0; i < 5; i++) await insert(`cert_a${i}`, "ca_a");
    for (let i = 0; i < 2; i++) await insert(`cert_b${i}`, "ca_b");
    expect(await db.migrate(ALL_MIGRATIONS)).toEqual(["0206_pki_issued_counts"]);
    const store = new PkiStore(db);
    expect([await store.issuedCount("ca_a"), await store.issuedCount("ca_b"), await store.issuedCount("ca_none")]).toEqual([5, 2, 0]);
    const row = (await db.get<Record<string, unknown>>("SELECT * FROM pki_certificates WHERE id = 'cert_b0'"))!;
    await db.transaction((tx) => store.insertCert(tx, { ...row, id: "cert_b9", serial_number: "b9" } as never));
    expect(await store.issuedCount("ca_b")).toBe(3);
  });
});
