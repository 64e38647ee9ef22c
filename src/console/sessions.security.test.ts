import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type TestVault } from "../testing/harness.js";
import { useFakeScaiKey } from "../access/testing/use-fake-scaikey.js";

/** A raw fetch with cookies and headers as a browser would send them (no Authorization unless given). */
async function call(vault: TestVault, method: string, path: string, headers: Record<string, string> = {}, body?: unknown) {
  const response = await fetch(`${vault.baseUrl}${path}`, {
    method,
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: "manual",
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

async function signIn(vault: TestVault, token: string) {
  const answer = await call(vault, "POST", "/v1/ui/session", {}, { token });
  expect(answer.status).toBe(201);
  const cookie = (answer.headers.get("set-cookie") ?? "").split(";")[0];
  return { cookie, csrf: answer.body.csrf_token as string, body: answer.body };
}

async function auditOf(vault: TestVault, action: string) {
  return (await vault.admin.get(`/v1/audit/logs?action=${action}&limit=50`)).body.logs as Array<Record<string, any>>;
}

describeEachBackend("console: sign-in sessions, cookie + CSRF in the pipeline", (backend) => {
  const { env, scaikey } = useFakeScaiKey();
  const vault = useVault(backend, { env });
  let limited: string;
  let limitedId: string;
  let adminId: string;

  beforeAll(async () => {
    const { admin } = vault();
    adminId = (await admin.get("/v1/auth/whoami")).body.identity_id;
    await admin.put("/v1/secrets/ui/test/one", { data: { password: "hunter2-value" } });
    const issued = await admin.post("/v1/auth/tokens", { identity_id: "sa:console", identity_type: "service_account", scopes: ["secrets:read", "secrets:list"], expires_in: "1h" });
    expect(issued.status).toBe(201);
    limited = issued.body.token;
    limitedId = issued.body.id;
  });

  it("signs in with a token: 201, HttpOnly SameSite=Strict cookie, the session's fields; a bad token is 401 and audited", async () => {
    const answer = await call(vault(), "POST", "/v1/ui/session", {}, { token: vault().adminToken });
    expect(answer.status).toBe(201);
    const cookie = answer.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^scaivault_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\//);
    expect(cookie).not.toContain(vault().adminToken);
    expect(answer.body).toMatchObject({ identity_id: adminId, tenant_id: "tnt_default", partner_id: "ptn_default" });
    expect(answer.body.csrf_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(answer.body.scopes).toContain("admin");
    // Login CSRF: a sign-in posted from another site is refused before the token is even checked.
    const crossSite = await call(vault(), "POST", "/v1/ui/session", { "sec-fetch-site": "cross-site", origin: "https://evil.example" }, { token: vault().adminToken });
    expect(crossSite.status).toBe(403);
    expect(crossSite.body.error.details.reason).toBe("csrf");
    expect(crossSite.headers.get("set-cookie")).toBeNull();
    const bad = await call(vault(), "POST", "/v1/ui/session", {}, { token: "skt_" + "x".repeat(43) });
    expect(bad.status).toBe(401);
    expect(bad.body.error.code).toBe("token_invalid");
    expect(bad.headers.get("set-cookie")).toBeNull();
    const logins = await auditOf(vault(), "ui_login");
    expect(logins.some((e) => e.success === true && e.identity_id === adminId)).toBe(true);
    // Failed sign-ins have no identity, so they go to the partner-level chain (SPEC §5).
    const dump = JSON.stringify(logins);
    expect(dump).not.toContain(vault().adminToken);
  });

  it("a cookie works only with the matching X-CSRF-Token; Authorization wins over the cookie; via: console is audited", async () => {
    const { cookie, csrf } = await signIn(vault(), vault().adminToken);
    const noCsrf = await call(vault(), "PUT", "/v1/secrets/ui/test/csrf", { cookie }, { data: { a: "1" } });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body.error).toMatchObject({ code: "forbidden", details: { reason: "csrf" } });
    const wrong = await call(vault(), "PUT", "/v1/secrets/ui/test/csrf", { cookie, "x-csrf-token": csrf.slice(0, -1) + (csrf.endsWith("A") ? "B" : "A") }, { data: { a: "1" } });
    expect(wrong.status).toBe(403);
    const getNoCsrf = await call(vault(), "GET", "/v1/auth/whoami", { cookie });
    expect(getNoCsrf.status).toBe(403);
    const crossSite = await call(vault(), "PUT", "/v1/secrets/ui/test/csrf", { cookie, "x-csrf-token": csrf, "sec-fetch-site": "cross-site" }, { data: { a: "1" } });
    expect(crossSite.body.error?.details?.reason).toBe("csrf");
    const otherOrigin = await call(vault(), "PUT", "/v1/secrets/ui/test/csrf", { cookie, "x-csrf-token": csrf, origin: "https://evil.example" }, { data: { a: "1" } });
    expect(otherOrigin.body.error?.details?.reason).toBe("csrf");
    expect((await vault().admin.get("/v1/secrets/ui/test/csrf")).status).toBe(404);

    const ok = await call(vault(), "PUT", "/v1/secrets/ui/test/csrf", { cookie, "x-csrf-token": csrf, origin: vault().baseUrl, "sec-fetch-site": "same-origin" }, { data: { a: "1" } });
    expect(ok.status).toBe(201);
    const writes = (await vault().admin.get("/v1/audit/logs?action=write&path_prefix=ui/test/csrf")).body.logs;
    expect(writes[0].extra_data.via).toBe("console");
    // A request with Authorization ignores cookies entirely: a bad bearer is not rescued by a good cookie.
    const bearerWins = await call(vault(), "GET", "/v1/auth/whoami", { cookie, "x-csrf-token": csrf, authorization: "Bearer skt_" + "y".repeat(43) });
    expect(bearerWins.status).toBe(401);
    // No CORS headers for anyone.
    expect(ok.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("GET /v1/ui/session needs only the cookie (recovers the CSRF token); DELETE signs out and the cookie stops working", async () => {
    const { cookie, csrf } = await signIn(vault(), vault().adminToken);
    const again = await call(vault(), "GET", "/v1/ui/session", { cookie });
    expect(again.status).toBe(200);
    expect(again.body.csrf_token).toBe(csrf);
    expect((await call(vault(), "GET", "/v1/ui/session", { cookie, "sec-fetch-site": "cross-site" })).status).toBe(403);
    expect((await call(vault(), "DELETE", "/v1/ui/session", { cookie })).status).toBe(403);
    const out = await call(vault(), "DELETE", "/v1/ui/session", { cookie, "x-csrf-token": csrf });
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toMatch(/^scaivault_session=; .*Max-Age=0/);
    const after = await call(vault(), "GET", "/v1/auth/whoami", { cookie, "x-csrf-token": csrf });
    expect(after.status).toBe(401);
    expect(after.body.error).toMatchObject({ code: "authentication_required", details: { reason: "session_expired" } });
    expect((await auditOf(vault(), "ui_logout")).some((e) => e.identity_id === adminId)).toBe(true);
  });

  it("re-checks the credential on every request: a revoked token ends its session at once", async () => {
    const { cookie, csrf } = await signIn(vault(), limited);
    expect((await call(vault(), "GET", "/v1/secrets/ui/test/one", { cookie, "x-csrf-token": csrf })).status).toBe(403);
    // Listing answers only what the caller may list: nothing here, since no policy binds sa:console.
    const listed = await call(vault(), "GET", "/v1/secrets?prefix=ui/", { cookie, "x-csrf-token": csrf });
    expect(listed.status).toBe(200);
    expect(listed.body.data).toEqual([]);
    expect((await vault().admin.delete(`/v1/auth/tokens/${limitedId}`)).status).toBeLessThan(300);
    const after = await call(vault(), "GET", "/v1/auth/whoami", { cookie, "x-csrf-token": csrf });
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe("token_revoked");
  });

  it("a JWT session stores the JWT sealed, not in clear, and works through the cookie", async () => {
    const jwt = await scaikey().sign({ sub: "user:carol@acme.example", tenant_id: "tnt_default", scope: "secrets:list" });
    const { cookie, csrf, body } = await signIn(vault(), jwt);
    expect(body.identity_id).toBe("user:carol@acme.example");
    expect((await call(vault(), "GET", "/v1/auth/whoami", { cookie, "x-csrf-token": csrf })).body.identity_id).toBe("user:carol@acme.example");
    const rows = await vault().vault.db.all<{ sealed_jwt: string | null; id_hmac: string }>("SELECT sealed_jwt, id_hmac FROM ui_sessions");
    expect(rows.some((r) => r.sealed_jwt !== null)).toBe(true);
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(jwt.split(".")[1]);
    expect(dump).not.toContain(cookie.split("=")[1]);
  });
});

describeEachBackend("console: timeouts, TLS cookie, SCAIVAULT_UI=false", (backend) => {
  const idle = useVault(backend, { env: { SCAIVAULT_UI_SESSION_IDLE: "1s" } });
  const off = useVault(backend, { env: { SCAIVAULT_UI: "false" } });
  const behindTls = useVault(backend, { env: { BASE_URL: "https://vault.example.com", SCAIVAULT_UI_SESSION_MAX: "1h" } });

  it("behind TLS (BASE_URL https) the cookie is __Host- and Secure, and only BASE_URL's origin is accepted", async () => {
    const answer = await call(behindTls(), "POST", "/v1/ui/session", {}, { token: behindTls().adminToken });
    expect(answer.headers.get("set-cookie")).toMatch(/^__Host-scaivault_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Secure$/);
    const cookie = (answer.headers.get("set-cookie") ?? "").split(";")[0];
    const csrf = answer.body.csrf_token;
    // Never past SCAIVAULT_UI_SESSION_MAX.
    expect(Date.parse(answer.body.expires_at) - Date.now()).toBeLessThanOrEqual(3_600_000);
    expect((await call(behindTls(), "GET", "/v1/auth/whoami", { cookie, "x-csrf-token": csrf, origin: "https://vault.example.com" })).status).toBe(200);
    const wrongOrigin = await call(behindTls(), "GET", "/v1/auth/whoami", { cookie, "x-csrf-token": csrf, origin: behindTls().baseUrl });
    expect(wrongOrigin.body.error.details.reason).toBe("csrf");
    // The plain name is not the session cookie here.
    const plain = await call(behindTls(), "GET", "/v1/auth/whoami", { cookie: cookie.replace("__Host-", ""), "x-csrf-token": csrf });
    expect(plain.body.error.code).toBe("authentication_required");
  });

  it("a session past its absolute lifetime answers 401 session_expired and its row is removed", async () => {
    const { cookie, csrf } = await signIn(idle(), idle().adminToken);
    await idle().vault.db.run("UPDATE ui_sessions SET expires_at = ?", [Date.now() - 1000]);
    const after = await call(idle(), "GET", "/v1/auth/whoami", { cookie, "x-csrf-token": csrf });
    expect(after.status).toBe(401);
    expect(after.body.error.details.reason).toBe("session_expired");
    expect(await idle().vault.db.all("SELECT id_hmac FROM ui_sessions WHERE expires_at < ?", [Date.now()])).toEqual([]);
  });

  it("a session idle past SCAIVAULT_UI_SESSION_IDLE answers 401 session_expired", async () => {
    const { cookie, csrf } = await signIn(idle(), idle().adminToken);
    // Make the session look idle for longer than the limit, instead of sleeping.
    await idle().vault.db.run("UPDATE ui_sessions SET last_seen_at = last_seen_at - 60000");
    const after = await call(idle(), "GET", "/v1/auth/whoami", { cookie, "x-csrf-token": csrf });
    expect(after.status).toBe(401);
    expect(after.body.error.details.reason).toBe("session_expired");
  });

  it("with the console off, /ui, /ui/ and the session endpoints are 404 and cookies are ignored", async () => {
    for (const path of ["/ui", "/ui/", "/ui/secrets"]) expect((await call(off(), "GET", path)).status).toBe(404);
    expect((await call(off(), "POST", "/v1/ui/session", {}, { token: off().adminToken })).status).toBe(404);
    const cookieOnly = await call(off(), "GET", "/v1/auth/whoami", { cookie: "scaivault_session=" + "a".repeat(43) });
    expect(cookieOnly.body.error.code).toBe("authentication_required");
  });
});
