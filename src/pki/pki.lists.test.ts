import { beforeAll, expect, it } from "vitest";
import { PAGE_SCAN_LIMIT } from "../storage/bounded-page.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { everyPage } from "../testing/pages.js";
import { planOf, statementsDuring } from "../testing/plans.js";
import { created, hierarchy } from "./testing.js";

/**
 * The certificate list over a tenant's long history (docs/benchmarks.md round 24): a filter that
 * matches few (a role, a source, unrevoked after a mass revocation) walks a bounded number of
 * certificates per page, and a CA's list walks the CA's own index.
 */
const HISTORY = PAGE_SCAN_LIMIT + 5_000;

interface CertList {
  data: { id: string }[];
  has_more: boolean;
}

describeEachBackend("certificate lists over a long history", (backend) => {
  const vault = useVault(backend);
  let h: Awaited<ReturnType<typeof hierarchy>>;
  let other: Awaited<ReturnType<typeof hierarchy>>;
  const rare: string[] = [];

  beforeAll(async () => {
    const { admin, vault: server } = vault();
    h = await hierarchy(admin, "bulk", { allowed_domains: ["svc.internal"], allow_subdomains: true });
    other = await hierarchy(admin, "rare", { allowed_domains: ["svc.internal"], allow_subdomains: true });
    const seed = await created(admin.post(`/v1/pki/issue/${h.role.name}`, { common_name: "seed.svc.internal" }));
    for (let i = 0; i < 2; i++) rare.push((await created(admin.post(`/v1/pki/issue/${other.role.name}`, { common_name: `rare-${i}.svc.internal` }))).id);
    // The bulk role's history, copied from a real row with new ids and serial numbers.
    const random = backend === "sqlite" ? "lower(hex(randomblob(16)))" : "md5(random()::text || g::text)";
    const columns = "tenant_id, partner_id, ca_id, common_name, alt_names, ip_sans, source, role, order_id, certificate_pem, not_before, not_after, revoked_at, revocation_reason, secret_path, created_by, created_at";
    await server.db.run(
      `INSERT INTO pki_certificates (id, serial_number, ${columns})
       WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < ${HISTORY})
       SELECT 'cert_' || ${random}, ${random}, ${columns} FROM pki_certificates, s WHERE id = ?`,
      [seed.id],
    );
    if (backend === "postgres") await server.db.run("ANALYZE pki_certificates");
  }, 120_000);

  it("a role two certificates have, among 25,000 of the tenant's: short pages with a cursor, together exactly those two", async () => {
    const pages = await everyPage<{ id: string }>(vault().admin, `/v1/pki/certificates?role=${other.role.name}&limit=100`);
    expect(pages.map((page) => page.has_more)).toEqual([true, false]);
    expect(pages.flatMap((page) => page.items.map((cert) => cert.id)).sort()).toEqual([...rare].sort());
  }, 60_000);

  it("a CA's list walks the CA's own certificates (tenant, CA, id): one full page of the small CA", async () => {
    const { admin, vault: server } = vault();
    const { statements, value } = await statementsDuring(server.db, () => admin.get<CertList>(`/v1/pki/certificates?ca_id=${other.int.id}`));
    expect(value.body).toMatchObject({ has_more: false });
    expect(value.body.data.map((cert) => cert.id).sort()).toEqual([...rare].sort());
    const list = statements.filter((s) => /FROM pki_certificates( INDEXED BY \w+)? WHERE/.test(s.sql) && /ORDER BY id/.test(s.sql)).at(-1)!;
    expect(await planOf(server.db, list.sql, list.params), list.sql).toMatch(/pki_certificates_ca_list/);
  });
});
