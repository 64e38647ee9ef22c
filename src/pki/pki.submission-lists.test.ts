import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { ApiClient, useVault } from "../testing/harness.js";
import { everyPage } from "../testing/pages.js";
import { planOf, statementsDuring } from "../testing/plans.js";
import { insertAcmeOrders } from "./testing.js";

/**
 * The CSR and ACME order lists answered the oldest 1,000 and no cursor: past a thousand
 * submissions the newest were out of reach. They page now (limit, cursor; SPEC §1), in submission order.
 */
const MANY = 1_205;
// A day ago: pending CSRs older than SCAIVAULT_PKI_CSR_TTL (30 days) would read as expired.
const BASE = Date.now() - 86_400_000;
const SERIES = `WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < ${MANY})`;

const inOrder = (ids: string[]) => ids.slice().sort((a, b) => Number(a.split("_")[1]) - Number(b.split("_")[1]));

describeEachBackend("CSR and ACME order lists over more than a thousand", (backend) => {
  const vault = useVault(backend);

  beforeAll(async () => {
    const { db } = vault().vault;
    // Every third pending, every fifth the desk's; submitted one millisecond apart.
    await db.run(
      `INSERT INTO pki_csrs (id, tenant_id, partner_id, role, csr_pem, state, common_name, alt_names, ip_sans, key_type, ttl, comment, requested_by, decided_by, reason, certificate_id, created_at, updated_at)
       ${SERIES}
       SELECT 'csr_' || g, 'tnt_default', 'ptn_default', 'vendor', 'PEM', CASE g % 3 WHEN 0 THEN 'pending' WHEN 1 THEN 'signed' ELSE 'rejected' END,
              'n' || g || '.partner.example', '[]', '[]', 'ec', NULL, NULL, CASE g % 5 WHEN 0 THEN 'sa:desk' ELSE 'user:admin' END, NULL, NULL, NULL, ${BASE} + g, ${BASE} + g
         FROM s`,
    );
    await insertAcmeOrders(db, MANY, BASE);
    if (backend === "postgres") await db.run("ANALYZE pki_csrs; ANALYZE acme_orders");
  }, 60_000);

  it("every CSR, page by page in submission order, the newest included; 100 by default", async () => {
    const { admin } = vault();
    const pages = await everyPage<{ id: string }>(admin, "/v1/pki/csrs?limit=500");
    expect(pages.map((page) => page.has_more)).toEqual([true, true, false]);
    const ids = pages.flatMap((page) => page.items.map((csr) => csr.id));
    expect(ids).toHaveLength(MANY);
    expect(ids).toEqual(inOrder(ids));
    expect(ids.at(-1)).toBe(`csr_${MANY}`);
    const first = await admin.get("/v1/pki/csrs");
    expect([first.body.data.length, first.body.has_more]).toEqual([100, true]);
  });

  it("a reviewer's pending queue walks the (tenant, state, submitted) index: every pending CSR, oldest first", async () => {
    const { admin, vault: server } = vault();
    const { statements, value } = await statementsDuring(server.db, () => everyPage<{ id: string; state: string }>(admin, "/v1/pki/csrs?state=pending&limit=300"));
    const ids = value.flatMap((page) => page.items.map((csr) => csr.id));
    expect(ids).toHaveLength(Math.floor(MANY / 3));
    expect(ids).toEqual(inOrder(ids));
    expect(value.every((page) => page.items.every((csr) => csr.state === "pending"))).toBe(true);
    const list = statements.filter((s) => /FROM pki_csrs( INDEXED BY \w+)? WHERE/.test(s.sql)).at(-1)!;
    expect(await planOf(server.db, list.sql, list.params), list.sql).toMatch(/pki_csrs_state_list/);
    // None is past SCAIVAULT_PKI_CSR_TTL; the expired ones are the range before the pending queue's, on the same index.
    const expired = await statementsDuring(server.db, () => admin.get("/v1/pki/csrs?state=expired"));
    expect(expired.value.body.data).toEqual([]);
    const expiredList = expired.statements.find((s) => /FROM pki_csrs( INDEXED BY \w+)? WHERE/.test(s.sql))!;
    expect(await planOf(server.db, expiredList.sql, expiredList.params), expiredList.sql).toMatch(/pki_csrs_state_list/);
  });

  it("a pki:issue caller pages through its own CSRs only", async () => {
    const { admin, baseUrl } = vault();
    const token = await admin.post("/v1/auth/tokens", { identity_id: "sa:desk", scopes: ["pki:issue"], expires_in: "1h" });
    const desk = new ApiClient(baseUrl, token.body.token);
    const pages = await everyPage<{ id: string; requested_by: string }>(desk, "/v1/pki/csrs?limit=100");
    const ids = pages.flatMap((page) => page.items.map((csr) => csr.id));
    expect(ids).toEqual(inOrder(Array.from({ length: Math.floor(MANY / 5) }, (_, i) => `csr_${5 * (i + 1)}`)));
    expect(pages.every((page) => page.items.every((csr) => csr.requested_by === "sa:desk"))).toBe(true);
  });

  it("every ACME order, and a status filter, page by page in submission order", async () => {
    const { admin } = vault();
    const all = (await everyPage<{ id: string }>(admin, "/v1/pki/acme/orders?limit=1000")).flatMap((page) => page.items.map((order) => order.id));
    expect(all).toHaveLength(MANY);
    expect(all).toEqual(inOrder(all));
    const valid = (await everyPage<{ id: string; status: string }>(admin, "/v1/pki/acme/orders?status=valid&limit=250")).flatMap((page) => page.items);
    expect(valid.map((order) => order.id)).toEqual(Array.from({ length: Math.floor(MANY / 2) }, (_, i) => `order_${2 * (i + 1)}`));
    expect((await admin.get("/v1/pki/acme/orders?cursor=not-a-cursor")).status).toBe(400);
  });
});
