import { VaultError } from "../http/errors.js";
import { csrShapeProblem } from "./csr-shape.js";
import type { Role } from "./roles.js";
import { describePublicKey, x509, type KeySpec } from "./x509.js";

export interface ParsedCsr {
  csr: x509.Pkcs10CertificateRequest;
  commonName: string | null;
  dnsNames: string[];
  ipSans: string[];
  key: KeySpec;
}

/** Subject alternative names a CSR may carry, as many as `alt_names` in a JSON body. */
export const MAX_CSR_NAMES = 100;

function invalid(message: string): VaultError {
  return new VaultError("invalid_csr", message);
}

/** A PKCS#10 request, its signature checked; unparsable or badly signed is `invalid_csr`. */
export async function parseCsr(pem: string): Promise<ParsedCsr> {
  const shape = csrShapeProblem(pem);
  if (shape) throw invalid(shape);
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem);
  } catch {
    throw invalid("The CSR is not a PEM or DER PKCS#10 certificate request");
  }
  const dnsNames: string[] = [];
  const ipSans: string[] = [];
  const sanExtension = csr.getExtension("2.5.29.17");
  const san = sanExtension ? new x509.SubjectAlternativeNameExtension(sanExtension.rawData) : null;
  const names = san?.names.toJSON() ?? [];
  // As many as a JSON body's alt_names: a 64 KB CSR carried 2,400, each checked against every
  // allowed domain, then signed into a 64 KB certificate and an event sent to every webhook.
  if (names.length > MAX_CSR_NAMES) throw new VaultError("invalid_csr", `The CSR names ${names.length} subject alternative names; at most ${MAX_CSR_NAMES} are accepted`, { details: { names: names.length, limit: MAX_CSR_NAMES } });
  for (const name of names) {
    if (name.type === "dns") dnsNames.push(name.value);
    else if (name.type === "ip") ipSans.push(name.value);
  }
  let signed = false;
  try {
    signed = await csr.verify();
  } catch {
    signed = false;
  }
  if (!signed) throw invalid("The CSR's signature does not verify");
  const key = describePublicKey(csr.publicKey.rawData);
  if (!key) throw new VaultError("key_not_allowed", "The CSR's key is neither RSA nor EC P-256/P-384");
  const commonName = csr.subjectName.getField("CN")[0] ?? null;
  return { csr, commonName, dnsNames, ipSans, key };
}

/**
 * A client key must fit the role: `rsa` at least `key_bits`, `ec` exactly the role's curve, `any`
 * either kind in the sizes the contract lists.
 */
export function requireKeyAllowed(role: Role, key: KeySpec): void {
  const ok =
    role.key_type === "any"
      ? (key.type === "rsa" && key.bits >= 2048) || (key.type === "ec" && (key.bits === 256 || key.bits === 384))
      : key.type === role.key_type && (key.type === "rsa" ? key.bits >= role.key_bits : key.bits === role.key_bits);
  if (!ok) {
    throw new VaultError("key_not_allowed", `The role needs ${role.key_type === "any" ? "an RSA ≥ 2048 or EC P-256/P-384" : `a ${role.key_type} ${role.key_bits}`} key; the CSR has ${key.type} ${key.bits}`, {
      details: { key_type: key.type, key_bits: key.bits },
    });
  }
}
