import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from "jose";

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

export const ISSUER = "https://scaikey.test/tenants/acme";
export const AUDIENCE = "scaivault";

interface SigningKey {
  kid: string;
  alg: "RS256" | "ES256";
  privateKey: PrivateKey;
  jwk: JWK;
}

async function makeKey(kid: string, alg: "RS256" | "ES256"): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

/**
 * A stand-in for ScaiKey (a third party): a real local HTTP server publishing a JWKS, plus the
 * private keys to sign test tokens with. `published` decides which public keys the JWKS shows.
 */
export class FakeScaiKey {
  fetches = 0;
  private constructor(private readonly server: Server, readonly url: string, readonly keys: Map<string, SigningKey>, public published: string[]) {}

  static async start(): Promise<FakeScaiKey> {
    const keys = new Map<string, SigningKey>();
    for (const key of [await makeKey("rsa-1", "RS256"), await makeKey("ec-1", "ES256"), await makeKey("rsa-rogue", "RS256")]) keys.set(key.kid, key);
    let fake: FakeScaiKey | undefined;
    const server = createServer((request, response) => {
      if (request.url === "/.well-known/openid-configuration" && fake) {
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify({ issuer: fake.base, jwks_uri: fake.url }));
        return;
      }
      if (request.url !== "/jwks.json" || !fake) {
        response.writeHead(404).end();
        return;
      }
      fake.fetches++;
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ keys: fake.published.map((kid) => keys.get(kid)?.jwk).filter(Boolean) }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    fake = new FakeScaiKey(server, `http://127.0.0.1:${port}/jwks.json`, keys, ["rsa-1", "ec-1"]);
    return fake;
  }

  /** The server's own base URL, for discovery (`SCAIKEY_URL`). */
  get base(): string {
    return this.url.replace(/\/jwks\.json$/, "");
  }

  env(): Record<string, string> {
    return { SCAIKEY_JWKS_URL: this.url, SCAIKEY_URL: ISSUER, SCAIKEY_AUDIENCE: AUDIENCE };
  }

  /** A token signed with `kid`'s private key (optionally claiming another kid in the header). */
  async sign(claims: JWTPayload, options: { kid?: string; headerKid?: string; expiresIn?: string | number; issuer?: string; audience?: string } = {}): Promise<string> {
    const key = this.keys.get(options.kid ?? "rsa-1");
    if (!key) throw new Error("unknown test key");
    return new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, kid: options.headerKid ?? key.kid, typ: "JWT" })
      .setIssuer(options.issuer ?? ISSUER)
      .setAudience(options.audience ?? AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(options.expiresIn ?? "1h")
      .sign(key.privateKey);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
