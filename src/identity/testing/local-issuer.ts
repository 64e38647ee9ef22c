import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createHmac } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from "jose";

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/**
 * A local OIDC issuer for exchange tests (a GitHub Actions or Kubernetes stand-in): discovery and
 * JWKS on a loopback port, and tokens signed with its key, a rogue key, `alg: none` or HMAC.
 */
export class LocalIssuer {
  private constructor(private readonly server: Server, readonly url: string, private readonly key: PrivateKey, private readonly rogue: PrivateKey, readonly jwk: JWK) {}

  static async start(): Promise<LocalIssuer> {
    const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
    const rogue = (await generateKeyPair("RS256", { extractable: true })).privateKey;
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" };
    let url = "";
    const server = createServer((request, response) => {
      const body = request.url === "/.well-known/openid-configuration" ? { issuer: url, jwks_uri: `${url}/keys` } : request.url === "/keys" ? { keys: [jwk] } : null;
      response.writeHead(body ? 200 : 404, { "content-type": "application/json" }).end(JSON.stringify(body ?? {}));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return new LocalIssuer(server, url, privateKey, rogue, jwk);
  }

  /** The public key set, for trusts that carry it inline (a Kubernetes cluster's, or GitHub's stand-in). */
  get jwks(): { keys: JWK[] } {
    return { keys: [this.jwk] };
  }

  /** `issuedAt` (epoch seconds) overrides `iat`, which is otherwise now (a claims `iat` would be overwritten). */
  async sign(claims: JWTPayload, options: { issuer?: string; audience?: string | string[]; expiresIn?: string | number; rogue?: boolean; issuedAt?: number } = {}): Promise<string> {
    let jwt = new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "k1", typ: "JWT" }).setIssuer(options.issuer ?? this.url).setIssuedAt(options.issuedAt);
    if (options.audience !== undefined) jwt = jwt.setAudience(options.audience);
    if (options.expiresIn !== undefined) jwt = jwt.setExpirationTime(options.expiresIn);
    return jwt.sign(options.rogue ? this.rogue : this.key);
  }

  /** Unsigned (`alg: none`) or HMAC-signed tokens with the given claims: both must be refused. */
  forged(claims: JWTPayload, alg: "none" | "HS256"): string {
    const head = `${b64({ alg, kid: "k1", typ: "JWT" })}.${b64(claims)}`;
    if (alg === "none") return `${head}.`;
    // HMAC keyed with the public key's modulus: the classic key-confusion forgery.
    return `${head}.${createHmac("sha256", String(this.jwk.n)).update(head).digest("base64url")}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
