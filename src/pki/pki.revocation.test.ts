import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { created, expectError, hierarchy, OpenSsl } from "./testing.js";

const upper = (serial: string) => serial.toUpperCase();

describeEachBackend("pki: revocation, CRLs and OCSP, checked with openssl", (backend) => {
  const vault = useVault(backend);
  const ssl = new OpenSsl();
  let h: Awaited<ReturnType<typeof hierarchy>>;
  let revoked: any;
  let kept: any;

  async function crl(caId: string, accept?: string): Promise<Buffer> {
    const response = await fetch(`${vault().baseUrl}/v1/pki/ca/${caId}/crl`, { headers: accept ? { accept } : {} });
    expect(response.status).toBe(200);
    return Buffer.from(await response.arrayBuffer());
  }

  async function ocsp(caId: string, issuerPem: string, certs: Record<string, string>, extra: string[] = []): Promise<string> {
    const issuer = ssl.file(`issuer-${caId}.pem`, issuerPem);
    const args = ["ocsp", "-issuer", issuer, "-url", `${vault().baseUrl}/v1/pki/ca/${caId}/ocsp`, "-VAfile", issuer, ...extra];
    for (const [name, pem] of Object.entries(certs)) args.push("-cert", ssl.file(name, pem));
    return ssl.ok(args);
  }

  beforeAll(async () => {
    const { admin } = vault();
    h = await hierarchy(admin, "rev", { allowed_domains: ["svc.internal"], allow_subdomains: true });
    revoked = await created(admin.post(`/v1/pki/issue/${h.role.name}`, { common_name: "gone.svc.internal" }));
    kept = await created(admin.post(`/v1/pki/issue/${h.role.name}`, { common_name: "kept.svc.internal" }));
  });

  it("revokes a certificate idempotently; the next CRL lists its serial with date and reason", async () => {
    const { admin, anonymous } = vault();
    const before = await crl(h.int.id);
    expect((await ssl.ok(["crl", "-inform", "DER", "-noout", "-text", "-in", ssl.file("before.crl", before)]))).not.toContain(upper(revoked.serial_number));
    const first = await admin.post(`/v1/pki/certificates/${revoked.id}/revoke`, { reason: "key_compromise" });
    expect(first.status, first.text).toBe(200);
    expect(first.body).toMatchObject({ id: revoked.id, revocation_reason: "key_compromise" });
    const again = await admin.post(`/v1/pki/certificates/${revoked.serial_number}/revoke`, { reason: "superseded" });
    expect(again.body).toEqual(first.body);
    const der = await crl(h.int.id);
    const text = (await ssl.ok(["crl", "-inform", "DER", "-noout", "-text", "-in", ssl.file("after.crl", der)]));
    expect(text).toContain(`Serial Number: ${upper(revoked.serial_number)}`);
    expect(text).toContain("Key Compromise");
    expect(text).toContain("X509v3 CRL Number");
    expect(text).toContain("X509v3 Authority Key Identifier");
    expect(text).not.toContain(upper(kept.serial_number));
    // The CRL's signature verifies with the CA certificate.
    expect((await ssl.ok(["crl", "-inform", "DER", "-noout", "-in", ssl.file("sig.crl", der), "-CAfile", ssl.file("int-for-crl.pem", h.intPem)]))).toContain("verify OK");
    // openssl verify with CRL checking refuses the revoked certificate and accepts the kept one.
    const pem = await anonymous.get(`/v1/pki/ca/${h.int.id}/crl`, { headers: { accept: "application/x-pem-file" } });
    expect(pem.headers.get("content-type")).toContain("application/x-pem-file");
    expect(pem.text).toMatch(/^-----BEGIN X509 CRL-----/);
    const rootCrl = (await anonymous.get(`/v1/pki/ca/${h.root.id}/crl?format=pem`)).text;
    const crlFile = ssl.file("all.crl.pem", pem.text + rootCrl);
    const chainArgs = ["verify", "-crl_check_all", "-CRLfile", crlFile, "-CAfile", ssl.file("r.pem", h.rootPem), "-untrusted", ssl.file("i.pem", h.intPem)];
    const bad = (await ssl.run([...chainArgs, ssl.file("revoked-leaf.pem", revoked.certificate)]));
    expect(bad.status).not.toBe(0);
    expect(bad.out).toContain("certificate revoked");
    expect((await ssl.run([...chainArgs, ssl.file("kept-leaf.pem", kept.certificate)])).status).toBe(0);
    const listed = (await admin.get(`/v1/pki/certificates?include_revoked=true&ca_id=${h.int.id}`)).body.data.map((c: any) => c.id);
    expect(listed).toContain(revoked.id);
    expect((await admin.get(`/v1/pki/certificates?ca_id=${h.int.id}`)).body.data.map((c: any) => c.id)).not.toContain(revoked.id);
    expectError(await admin.post(`/v1/pki/certificates/${kept.id}/revoke`, { reason: "because" }), 422, "validation_error");
  });

  it("regenerates the CRL on demand with a new number and next_update 72h ahead", async () => {
    const { admin } = vault();
    const one = await admin.post(`/v1/pki/ca/${h.int.id}/crl`);
    expect(one.status, one.text).toBe(200);
    const two = (await admin.post(`/v1/pki/ca/${h.int.id}/crl`)).body;
    expect(two.crl_number).toBe(one.body.crl_number + 1);
    expect(Date.parse(two.next_update) - Date.parse(two.this_update)).toBe(72 * 3_600_000);
    expect((await ssl.ok(["crl", "-noout", "-crlnumber", "-in", ssl.file("regen.crl.pem", two.crl_pem)]))).toMatch(new RegExp(`crlNumber=0x0*${two.crl_number.toString(16).toUpperCase()}\\b`, "i"));
    const audit = await vault().vault.db.get<{ identity_id: string; tenant_id: string }>("SELECT identity_id, tenant_id FROM audit_log WHERE action = 'pki_crl_read' ORDER BY timestamp DESC");
    expect(audit).toEqual({ identity_id: "anonymous", tenant_id: "tnt_default" });
    expect(await vault().vault.db.get("SELECT id FROM audit_log WHERE action = 'pki_crl_generate' AND success = 1")).toBeDefined();
  });

  it("answers OCSP good, revoked and unknown with the nonce echoed, signed by the CA", async () => {
    const out = await ocsp(h.int.id, h.intPem, { "gone.pem": revoked.certificate, "kept.pem": kept.certificate }, ["-resp_text"]);
    expect(out).toContain("Response verify OK");
    expect(out).toContain("gone.pem: revoked");
    expect(out).toContain("Reason: keyCompromise");
    expect(out).toContain("kept.pem: good");
    // openssl sends a nonce by default and warns when the response lacks it.
    expect(out).toContain("OCSP Nonce");
    expect(out).not.toContain("WARNING: no nonce");
    const unknown = await ssl.ok(["ocsp", "-issuer", ssl.file("int-u.pem", h.intPem), "-serial", "0x0123456789", "-url", `${vault().baseUrl}/v1/pki/ca/${h.int.id}/ocsp`, "-VAfile", ssl.file("int-u.pem", h.intPem)]);
    expect(unknown).toContain("0x0123456789: unknown");
    // A certificate asked of a CA that did not issue it is unknown there.
    expect(await ocsp(h.root.id, h.rootPem, { "kept-at-root.pem": kept.certificate }, ["-VAfile", ssl.file("root-va.pem", h.rootPem)])).toContain("kept-at-root.pem: unknown");
  });

  it("serves the GET form of OCSP and answers malformed requests with malformedRequest", async () => {
    const reqFile = `${ssl.dir}/req.der`;
    (await ssl.ok(["ocsp", "-issuer", ssl.file("int-g.pem", h.intPem), "-cert", ssl.file("kept-g.pem", kept.certificate), "-reqout", reqFile, "-no_nonce"]));
    const request = (await import("node:fs")).readFileSync(reqFile);
    const response = await fetch(`${vault().baseUrl}/v1/pki/ca/${h.int.id}/ocsp/${encodeURIComponent(request.toString("base64"))}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/ocsp-response");
    const text = (await ssl.ok(["ocsp", "-respin", ssl.file("resp.der", Buffer.from(await response.arrayBuffer())), "-resp_text", "-noverify"]));
    expect(text).toContain("Cert Status: good");
    const junk = await fetch(`${vault().baseUrl}/v1/pki/ca/${h.int.id}/ocsp`, { method: "POST", headers: { "content-type": "application/ocsp-request" }, body: "not der" });
    expect(junk.status).toBe(200);
    // openssl reports a responder error and exits non-zero.
    const junkText = (await ssl.run(["ocsp", "-respin", ssl.file("junk.der", Buffer.from(await junk.arrayBuffer())), "-resp_text", "-noverify"]));
    expect(junkText.out).toContain("Responder Error: malformedrequest (1)");
    // A `%` that is no escape once the router decoded the path (`%25zz` → `%zz`) is no base64 either:
    // malformedRequest, not a 500 from a second decode.
    const stray = await fetch(`${vault().baseUrl}/v1/pki/ca/${h.int.id}/ocsp/%25zz`);
    expect(stray.status).toBe(200);
    const strayText = (await ssl.run(["ocsp", "-respin", ssl.file("stray.der", Buffer.from(await stray.arrayBuffer())), "-resp_text", "-noverify"]));
    expect(strayText.out).toContain("Responder Error: malformedrequest (1)");
    // A body past what 100 requests need is refused before it is read whole.
    const oversized = await fetch(`${vault().baseUrl}/v1/pki/ca/${h.int.id}/ocsp`, { method: "POST", headers: { "content-type": "application/ocsp-request" }, body: Buffer.alloc(17 * 1024, 0x30) });
    expect(oversized.status).toBe(413);
    expect((await oversized.json()).error.code).toBe("payload_too_large");
  });

  it("cascades a CA revocation: the parent's CRL lists the intermediate, OCSP answers revoked for its leaves, issuing stops", async () => {
    const { admin } = vault();
    const revokedCa = await admin.post(`/v1/pki/ca/${h.int.id}/revoke`, { reason: "ca_compromise" });
    expect(revokedCa.status, revokedCa.text).toBe(200);
    expect(revokedCa.body).toMatchObject({ id: h.int.id, is_active: false });
    expect(revokedCa.body.revoked_at).not.toBeNull();
    const rootCrl = (await ssl.ok(["crl", "-inform", "DER", "-noout", "-text", "-in", ssl.file("root-after.crl", await crl(h.root.id))]));
    expect(rootCrl).toContain(`Serial Number: ${upper(h.int.serial_number)}`);
    expect(rootCrl).toContain("CA Compromise");
    const out = await ocsp(h.int.id, h.intPem, { "kept-after.pem": kept.certificate });
    expect(out).toContain("kept-after.pem: revoked");
    // The root answers for the intermediate itself.
    expect(await ocsp(h.root.id, h.rootPem, { "int-cert.pem": h.intPem }, ["-VAfile", ssl.file("root-va2.pem", h.rootPem)])).toContain("int-cert.pem: revoked");
    const events = await vault().vault.db.all<{ event_type: string; data: string }>("SELECT event_type, data FROM events WHERE event_type IN ('certificate.revoked', 'ca.revoked') ORDER BY id");
    const cascaded = events.map((e) => ({ type: e.event_type, data: JSON.parse(e.data) })).filter((e) => e.data.certificate_id === kept.id);
    expect(cascaded).toHaveLength(1);
    expect(cascaded[0].data).toMatchObject({ cascade_from_ca_id: h.int.id, reason: "ca_compromise", serial_number: kept.serial_number });
    expect((await admin.get(`/v1/pki/certificates/${kept.id}`)).body.revocation_reason).toBe("ca_compromise");
    expectError(await admin.post(`/v1/pki/issue/${h.role.name}`, { common_name: "late.svc.internal" }), 409, "ca_inactive");
    expectError(await admin.post("/v1/pki/ca", { name: "under-revoked", common_name: "x", ca_type: "intermediate", parent_ca_id: h.int.id, key_type: "ec" }), 409, "ca_inactive");
    // Revoking the root cascades through the (already revoked) intermediate without a second event for it.
    expect((await admin.post(`/v1/pki/ca/${h.root.id}/revoke`, { reason: "cessation_of_operation" })).status).toBe(200);
    expect((await admin.get(`/v1/pki/ca/${h.root.id}`)).body.is_active).toBe(false);
  });
});
