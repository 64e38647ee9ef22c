import { beforeAll, expect, it, vi } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { planOf, statementsDuring } from "../testing/plans.js";
import { ApiClient, useSecondNode, useVault } from "../testing/harness.js";
import { childrenOf, readElement } from "./der.js";
import { PkiStore } from "./store.js";
import { created, hierarchy, OpenSsl } from "./testing.js";
import { x509 } from "./x509.js";

/**
 * A CA with a long history (docs/benchmarks.md round 23): one signature per stale CRL however many
 * read it on however many nodes, the list bounded by validity, a node serving the CRL another
 * signed, and an issue that never reads the CA's history.
 */
describeEachBackend("pki at scale: CRLs read at once on two nodes, what they list, what issuing reads", (backend) => {
  const vault = useVault(backend);
  const secondNode = useSecondNode(vault);
  const ssl = new OpenSsl();
  let h: Awaited<ReturnType<typeof hierarchy>>;

  async function crl(baseUrl: string, caId: string): Promise<Buffer> {
    const response = await fetch(`${baseUrl}/v1/pki/ca/${caId}/crl`);
    expect(response.status).toBe(200);
    return Buffer.from(await response.arrayBuffer());
  }
  // The cRLNumber extension's value is a DER INTEGER.
  const crlNumber = (der: Buffer) => {
    const integer = Buffer.from(new x509.X509Crl(new Uint8Array(der)).getExtension("2.5.29.20")!.value);
    const element = readElement(integer, 0);
    return Number.parseInt(integer.subarray(element.contentStart, element.end).toString("hex"), 16);
  };
  const serialsOf = (der: Buffer) => new x509.X509Crl(new Uint8Array(der)).entries.map((entry) => entry.serialNumber.replace(/^(00)+(?=.)/, ""));
  const numberOnCa = async (caId: string) => Number((await vault().vault.db.get<{ crl_number: number }>("SELECT crl_number FROM pki_cas WHERE id = ?", [caId]))!.crl_number);

  beforeAll(async () => {
    h = await hierarchy(vault().admin, "crl", { allowed_domains: ["svc.internal"], allow_subdomains: true });
  });

  async function issueAndRevoke(name: string, reason: string) {
    const cert = await created(vault().admin.post(`/v1/pki/issue/${h.role.name}`, { common_name: `${name}.svc.internal` }));
    expect((await vault().admin.post(`/v1/pki/certificates/${cert.id}/revoke`, { reason })).status).toBe(200);
    return cert;
  }

  it("signs a stale CRL once however many read it at once, on either node", async () => {
    await crl(vault().baseUrl, h.int.id);
    const cert = await issueAndRevoke("herd", "key_compromise");
    const before = await numberOnCa(h.int.id);
    const nodes = [vault().baseUrl, secondNode().baseUrl];
    // Each regeneration takes the CA's row first; readers on one node wait for that node's one.
    const regenerations = vi.spyOn(PkiStore.prototype, "lockCa");
    let regenerated = 0;
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => crl(nodes[i % 2], h.int.id))).finally(() => {
      regenerated = regenerations.mock.calls.length;
      regenerations.mockRestore();
    });
    expect(regenerated).toBeGreaterThanOrEqual(1);
    expect(regenerated).toBeLessThanOrEqual(2);
    expect(new Set(answers.map((der) => der.toString("hex"))).size).toBe(1);
    expect(await numberOnCa(h.int.id)).toBe(before + 1);
    expect(crlNumber(answers[0])).toBe(before + 1);
    expect(serialsOf(answers[0])).toContain(cert.serial_number);
  });

  it("serves on one node the CRL another node signed since, by its number", async () => {
    const first = await crl(vault().baseUrl, h.int.id);
    const forced = await secondNode().post(`/v1/pki/ca/${h.int.id}/crl`);
    expect(forced.status, forced.text).toBe(200);
    expect(forced.body.crl_number).toBe(crlNumber(first) + 1);
    const next = await crl(vault().baseUrl, h.int.id);
    expect(crlNumber(next)).toBe(forced.body.crl_number);
    expect(next.toString("base64")).toBe(forced.body.crl_pem.replace(/-----[A-Z0-9 ]+-----|\n/g, ""));
  });

  it("lists a revoked certificate until it has been expired a whole CRL lifetime, then no more", async () => {
    const lifetime = vault().vault.config.pki.crlLifetimeMs;
    const longGone = await issueAndRevoke("long-gone", "superseded");
    const recentlyGone = await issueAndRevoke("recently-gone", "superseded");
    const stillValid = await issueAndRevoke("still-valid", "superseded");
    const now = Date.now();
    await vault().vault.db.run("UPDATE pki_certificates SET not_after = ? WHERE id = ?", [now - lifetime - 600_000, longGone.id]);
    await vault().vault.db.run("UPDATE pki_certificates SET not_after = ? WHERE id = ?", [now - lifetime + 600_000, recentlyGone.id]);
    const forced = await vault().admin.post(`/v1/pki/ca/${h.int.id}/crl`);
    const der = await crl(vault().baseUrl, h.int.id);
    expect(crlNumber(der)).toBe(forced.body.crl_number);
    const listed = serialsOf(der);
    expect(listed).toContain(stillValid.serial_number);
    expect(listed).toContain(recentlyGone.serial_number);
    expect(listed).not.toContain(longGone.serial_number);
    // OCSP still answers for it: leaving the CRL is not being unrevoked.
    expect((await vault().admin.get(`/v1/pki/certificates/${longGone.id}`)).body.revocation_reason).toBe("superseded");
  });

  it("issues without counting the CA's certificates, and its views read the kept count, never the certificates", async () => {
    const { db } = vault().vault;
    const { statements } = await statementsDuring(db, () => created(vault().admin.post(`/v1/pki/issue/${h.role.name}`, { common_name: "uncounted.svc.internal" })));
    const sqls = statements.map((s) => s.sql);
    expect(sqls.some((sql) => /FROM pki_cas/.test(sql))).toBe(true);
    expect(sqls.filter((sql) => /COUNT\(\*\)[\s\S]*FROM pki_certificates/i.test(sql))).toEqual([]);
    // Issued at once on two nodes: every one counted (PostgreSQL spreads them over count rows).
    const nodes = [vault().admin, secondNode()];
    await Promise.all(Array.from({ length: 12 }, (_, i) => created(nodes[i % 2].post(`/v1/pki/issue/${h.role.name}`, { common_name: `counted-${i}.svc.internal` }))));
    const counted = Number((await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM pki_certificates WHERE ca_id = ?", [h.int.id]))!.n);
    const { statements: viewing, value: view } = await statementsDuring(db, () => vault().admin.get(`/v1/pki/ca/${h.int.id}`));
    expect(view.body.certificates_issued).toBe(counted);
    const { statements: listing, value: list } = await statementsDuring(db, () => vault().admin.get<{ data: { id: string; certificates_issued: number }[] }>("/v1/pki/ca"));
    expect(list.body.data.find((ca) => ca.id === h.int.id)?.certificates_issued).toBe(counted);
    // No read of a CA's certificates (the node's own expiry job may read due notices meanwhile).
    expect([...viewing, ...listing].filter((s) => /FROM pki_certificates\b[\s\S]*ca_id/.test(s.sql)).map((s) => s.sql)).toEqual([]);
  });

  it("counts only live certificates at a scrape: the metrics' statements walk pki_certificates_live", async () => {
    const { db } = vault().vault;
    const { statements, value: scrape } = await statementsDuring(db, () => vault().anonymous.get("/v1/metrics"));
    expect(scrape.text).toContain("scaivault_certificates_active");
    const scraped = statements.filter((s) => /FROM pki_certificates/.test(s.sql));
    expect(scraped).toHaveLength(2);
    for (const { sql, params } of scraped) {
      expect(await planOf(db, sql, params), sql).toMatch(/pki_certificates_live/);
    }
  });

  it("lists a pki:issue caller's own certificates along (tenant, creator, id), not the tenant's history", async () => {
    const { admin, vault: server } = vault();
    const policy = await created(admin.post("/v1/policies", { name: "scale-issuer", rules: [{ path_pattern: `sys/pki/${h.role.name}`, permissions: ["write"] }] }));
    expect((await admin.post(`/v1/policies/${policy.id}/bindings`, { identity_type: "service_account", identity_id: "sa:scale-issuer" })).status).toBe(201);
    const token = await admin.post("/v1/auth/tokens", { identity_id: "sa:scale-issuer", scopes: ["pki:issue"], expires_in: "1h" });
    const issuer = new ApiClient(vault().baseUrl, token.body.token);
    const own = await created(issuer.post(`/v1/pki/issue/${h.role.name}`, { common_name: "own.svc.internal" }));
    const { statements, value: listed } = await statementsDuring(server.db, () => issuer.get<{ data: { id: string }[] }>("/v1/pki/certificates"));
    expect(listed.body.data.map((cert) => cert.id)).toEqual([own.id]);
    const list = statements.filter((s) => /FROM pki_certificates( INDEXED BY \w+)? WHERE/.test(s.sql) && /ORDER BY id/.test(s.sql)).at(-1)!;
    expect(await planOf(server.db, list.sql, list.params), list.sql).toMatch(/pki_certificates_creator/);
  });

  it("gives an entry revoked without a reason no empty extensions, and openssl reads it", async () => {
    const cert = await issueAndRevoke("no-reason", "unspecified");
    const der = await crl(vault().baseUrl, h.int.id);
    const outer = readElement(der, 0);
    const tbs = childrenOf(der, outer)[0];
    const list = childrenOf(der, tbs).find((child, i) => i === 5 && child.tag === 0x30)!;
    const entry = childrenOf(der, list).find((e) => der.subarray(e.start, e.end).toString("hex").includes(cert.serial_number))!;
    expect(childrenOf(der, entry).map((child) => child.tag)).toEqual([0x02, 0x17]);
    const text = await ssl.ok(["crl", "-inform", "DER", "-noout", "-text", "-in", ssl.file("no-reason.crl", der)]);
    expect(text).toContain(`Serial Number: ${cert.serial_number.toUpperCase()}`);
    expect(await ssl.ok(["crl", "-inform", "DER", "-noout", "-in", ssl.file("no-reason-sig.crl", der), "-CAfile", ssl.file("int.pem", h.intPem)])).toContain("verify OK");
  });

  it("revokes every leaf of a revoked CA in one statement, announcing those still valid", async () => {
    const { admin, vault: server } = vault();
    const c = await hierarchy(admin, "cascade", { allowed_domains: ["svc.internal"], allow_subdomains: true });
    const [expired, valid, other] = await Promise.all(["expired", "valid", "other"].map((name) => created(admin.post(`/v1/pki/issue/${c.role.name}`, { common_name: `${name}.svc.internal` }))));
    await server.db.run("UPDATE pki_certificates SET not_after = ? WHERE id = ?", [Date.now() - 60_000, expired.id]);
    expect((await admin.post(`/v1/pki/ca/${c.int.id}/revoke`, { reason: "ca_compromise" })).body.certificates_issued).toBe(3);
    for (const cert of [expired, valid, other]) expect((await admin.get(`/v1/pki/certificates/${cert.id}`)).body.revocation_reason).toBe("ca_compromise");
    const events = await server.db.all<{ data: string }>("SELECT data FROM events WHERE event_type = 'certificate.revoked'");
    const announced = events.map((e) => JSON.parse(e.data)).filter((data) => data.cascade_from_ca_id === c.int.id && data.certificate_id);
    expect(announced.map((data) => data.certificate_id).sort()).toEqual([valid.id, other.id].sort());
  });
});
