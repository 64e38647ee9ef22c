import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from "jose";

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

/** The JSON fixture the stand-in serves, re-read on every request (spec/identity.md §2). */
export interface DirectoryFixture {
  clients: Array<{ client_id: string; client_secret: string }>;
  partners: Array<{ id: string; name: string; slug: string; region: string; status: string }>;
  tenants: Array<{ id: string; partner_id: string; name: string; slug: string; status: string }>;
  users: Array<{ id: string; tenant_id: string; email: string; display_name: string; status: string; mfa_enabled: boolean; roles: string[] }>;
  groups: Array<{ id: string; tenant_id: string; name: string; description: string; status: string }>;
  memberships: Array<{ group_id: string; member_type: "user" | "group" | "application"; member_id: string }>;
  applications: Array<{ id: string; tenant_id: string; client_id: string; name: string; type: string; status: string }>;
  /** Test hook: every admin call naming one of these tenants answers 500. */
  fail_tenants?: string[];
}

export const emptyFixture = (): DirectoryFixture => ({ clients: [], partners: [], tenants: [], users: [], groups: [], memberships: [], applications: [] });

const ADMIN = /^\/api\/v1\/admin\/(partners|tenants|users|groups|applications)$/;
const MEMBERS = /^\/api\/v1\/admin\/groups\/([^/]+)\/members$/;

/**
 * A stand-in for ScaiKey (a third party) over real HTTP on a loopback port: OpenID discovery,
 * JWKS, JWT signing, the client-credentials token endpoint and the admin API's directory reads.
 * It serves the fixture last written (`write`, `edit`), from memory: re-reading a large directory
 * per request made the stand-in, not the vault, the cost of a scale test's sync.
 */
export class ScaiKeyStandIn {
  /** Admin API calls answered, by path (tests assert token reuse and retries with it). */
  readonly calls: string[] = [];
  tokenRequests = 0;
  /** Answer the next N admin calls with 503 (retry tests). */
  failNext = 0;
  private readonly issued = new Map<string, number>();
  private served: DirectoryFixture;

  private constructor(private readonly server: Server, readonly url: string, readonly fixtureFile: string, private readonly key: { kid: string; privateKey: PrivateKey; jwk: JWK }) {
    this.served = this.fixture();
  }

  static async start(fixtureFile: string, fixture: DirectoryFixture = emptyFixture()): Promise<ScaiKeyStandIn> {
    writeFileSync(fixtureFile, JSON.stringify(fixture));
    const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
    const key = { kid: "standin-1", privateKey, jwk: { ...(await exportJWK(publicKey)), kid: "standin-1", alg: "RS256", use: "sig" } };
    let standIn: ScaiKeyStandIn | undefined;
    const server = createServer((request, response) => {
      standIn!.handle(request, response).catch(() => send(response, 500, { error: "internal" }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    standIn = new ScaiKeyStandIn(server, url, fixtureFile, key);
    return standIn;
  }

  fixture(): DirectoryFixture {
    return JSON.parse(readFileSync(this.fixtureFile, "utf8")) as DirectoryFixture;
  }

  write(fixture: DirectoryFixture): void {
    const text = JSON.stringify(fixture);
    writeFileSync(this.fixtureFile, text);
    this.served = JSON.parse(text) as DirectoryFixture;
  }

  /** Applies `change` to the fixture on disk. */
  edit(change: (fixture: DirectoryFixture) => void): void {
    const fixture = this.fixture();
    change(fixture);
    this.write(fixture);
  }

  /** A ScaiKey-style JWT signed by the stand-in (issuer = its URL). */
  async sign(claims: JWTPayload, options: { audience?: string; expiresIn?: string | number } = {}): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", kid: this.key.kid, typ: "JWT" })
      .setIssuer(this.url)
      .setAudience(options.audience ?? "scaivault")
      .setIssuedAt()
      .setExpirationTime(options.expiresIn ?? "1h")
      .sign(this.key.privateKey);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", this.url);
    if (url.pathname === "/.well-known/openid-configuration") {
      return send(response, 200, { issuer: this.url, jwks_uri: `${this.url}/jwks.json`, token_endpoint: `${this.url}/oauth/token` });
    }
    if (url.pathname === "/jwks.json") return send(response, 200, { keys: [this.key.jwk] });
    if (url.pathname === "/oauth/token" && request.method === "POST") return this.token(request, response);
    const fixture = this.served;
    const bearer = /^Bearer (\S+)$/.exec(request.headers.authorization ?? "")?.[1];
    const expires = bearer ? this.issued.get(bearer) : undefined;
    if (!expires || expires < Date.now()) return send(response, 401, { error: "invalid_token" });
    this.calls.push(url.pathname + url.search);
    if (this.failNext > 0) {
      this.failNext--;
      return send(response, 503, { error: "unavailable" });
    }
    const tenantId = url.searchParams.get("tenant_id");
    if (tenantId && fixture.fail_tenants?.includes(tenantId)) return send(response, 500, { error: "boom" });
    const members = MEMBERS.exec(url.pathname);
    if (members) {
      const group = fixture.groups.find((g) => g.id === decodeURIComponent(members[1]));
      if (!group) return send(response, 404, { error: "not_found" });
      if (fixture.fail_tenants?.includes(group.tenant_id)) return send(response, 500, { error: "boom" });
      const items = fixture.memberships.filter((m) => m.group_id === group.id).map((m) => ({ member_type: m.member_type, member_id: m.member_id, added_at: "2026-01-01T00:00:00Z" }));
      return page(response, url, items);
    }
    const list = ADMIN.exec(url.pathname);
    if (!list) return send(response, 404, { error: "not_found" });
    const partnerId = url.searchParams.get("partner_id");
    switch (list[1]) {
      case "partners":
        return page(response, url, fixture.partners);
      case "tenants":
        return page(response, url, fixture.tenants.filter((t) => !partnerId || t.partner_id === partnerId));
      case "users":
        return page(response, url, fixture.users.filter((u) => u.tenant_id === tenantId));
      case "groups":
        return page(response, url, fixture.groups.filter((g) => g.tenant_id === tenantId));
      default: {
        const type = url.searchParams.get("type");
        return page(response, url, fixture.applications.filter((a) => a.tenant_id === tenantId && (!type || a.type === type)));
      }
    }
  }

  private async token(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.tokenRequests++;
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
    const client = this.served.clients.find((c) => c.client_id === form.get("client_id"));
    const secret = Buffer.from(form.get("client_secret") ?? "");
    const ok = client && secret.length === client.client_secret.length && timingSafeEqual(secret, Buffer.from(client.client_secret));
    if (form.get("grant_type") !== "client_credentials" || !ok) return send(response, 401, { error: "invalid_client" });
    const token = randomBytes(24).toString("base64url");
    this.issued.set(token, Date.now() + 3600_000);
    return send(response, 200, { access_token: token, token_type: "Bearer", expires_in: 3600, scope: form.get("scope") ?? "" });
  }

  /** Withdraws every access token it issued (the next admin call gets 401). */
  revokeIssuedTokens(): void {
    this.issued.clear();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function page(response: ServerResponse, url: URL, items: unknown[]): void {
  const pageNo = Math.max(1, Number(url.searchParams.get("page") ?? 1));
  const size = Math.min(100, Math.max(1, Number(url.searchParams.get("page_size") ?? 100)));
  send(response, 200, { data: items.slice((pageNo - 1) * size, pageNo * size), total: items.length, page: pageNo, page_size: size });
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}
