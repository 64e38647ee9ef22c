import { webcrypto } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { CSR_LIMITS, csrShapeProblem } from "./csr-shape.js";
import { created, expectError, hierarchy } from "./testing.js";
import { x509 } from "./x509.js";

const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** A CSR signed by its own key, with as many challengePassword attributes and subject parts as asked. */
async function csrWith(options: { attributes?: number; extensions?: number; rdns?: number; name?: string } = {}): Promise<string> {
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const name = options.name ?? "shape.example.internal";
  const parts = Array.from({ length: (options.rdns ?? 1) - 1 }, (_, i) => `OU=unit${i}`);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [`CN=${name}`, ...parts].join(", "),
    keys: keys as CryptoKeyPair,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: "dns", value: name }]),
      ...Array.from({ length: options.extensions ?? 0 }, (_, i) => new x509.Extension(`1.3.6.1.4.1.99999.${i}`, false, new Uint8Array([5, 0]))),
    ],
    attributes: Array.from({ length: options.attributes ?? 0 }, () => new x509.ChallengePasswordAttribute("not-a-secret")),
  });
  return csr.toString("pem");
}

describe("a CSR's shape, counted from its DER headers", () => {
  it("passes real requests and refuses past each limit before any parse", async () => {
    expect(csrShapeProblem(await csrWith())).toBeNull();
    expect(csrShapeProblem(await csrWith({ attributes: CSR_LIMITS.attributes - 1, extensions: CSR_LIMITS.extensions - 1, rdns: CSR_LIMITS.rdns }))).toBeNull();
    expect(csrShapeProblem(await csrWith({ attributes: CSR_LIMITS.attributes + 1 }))).toMatch(/more than 16 attributes/);
    expect(csrShapeProblem(await csrWith({ extensions: CSR_LIMITS.extensions }))).toMatch(/more than 64 extensions/);
    expect(csrShapeProblem(await csrWith({ rdns: CSR_LIMITS.rdns + 1 }))).toMatch(/more than 64 parts/);
    // Several values in one RDN (a multi-valued SET) count one by one.
    expect(csrShapeProblem(await csrWith({ name: "shape.example.internal+OU=a+OU=b" }))).toBeNull();
    const multi = Array.from({ length: CSR_LIMITS.rdns }, (_, i) => `OU=u${i}`).join("+");
    expect(csrShapeProblem(await csrWith({ name: `shape.example.internal+${multi}` }))).toMatch(/more than 64 parts/);
    // The encodings the parser reads: DER as base64 and hex too.
    const der = Buffer.from(new x509.Pkcs10CertificateRequest(await csrWith()).rawData);
    expect(csrShapeProblem(der.toString("base64"))).toBeNull();
    expect(csrShapeProblem(der.toString("hex"))).toBeNull();
    for (const junk of ["garbage", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).toString("base64")]) {
      expect(csrShapeProblem(junk)).toMatch(/not a/);
    }
  });
});

describeEachBackend("pki: a CSR stuffed with attributes is refused before it is parsed", (backend) => {
  const vault = useVault(backend);
  let role = "";
  beforeAll(async () => {
    const h = await hierarchy(vault().admin, "shape", { allowed_domains: ["example.internal"], allow_subdomains: true });
    role = h.role.name;
  });

  it("signs a request of a real shape and refuses 1,500 signed attributes with invalid_csr", async () => {
    const { admin } = vault();
    await created(admin.post(`/v1/pki/sign/${role}`, { csr_pem: await csrWith() }));
    const stuffed = await csrWith({ attributes: 1_500 });
    expect(stuffed.length).toBeLessThan(65_536);
    const signed = await admin.post(`/v1/pki/sign/${role}`, { csr_pem: stuffed });
    expectError(signed, 400, "invalid_csr");
    expect(signed.body.error.message).toMatch(/more than 16 attributes/);
    expectError(await admin.post("/v1/pki/csrs", { csr_pem: stuffed, role }), 400, "invalid_csr");
  });
});
