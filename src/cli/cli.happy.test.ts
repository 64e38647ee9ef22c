import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { cli, useCliHome } from "./cli-harness.js";

describeEachBackend("scaivault CLI (the built binary)", (backend) => {
  const vault = useVault(backend);
  const { home, env } = useCliHome(vault);

  it("prints help and version with exit code 0", async () => {
    const help = await cli(["--help"], { HOME: home() });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/secrets +read, write, list/);
    const readHelp = await cli(["secrets", "read", "--help"], { HOME: home() });
    expect([readHelp.code, readHelp.stdout]).toEqual([0, expect.stringContaining("Usage: scaivault secrets read <path> [--version N|previous] [--field NAME]")]);
    const version = await cli(["--version"], { HOME: home() });
    expect([version.code, version.stdout]).toEqual([0, "scaivault 0.1.0\n"]);
  });

  it("config set, auth login and whoami use ~/.scaivault/config.json (mode 0600), env wins", async () => {
    const own = mkdtempSync(join(tmpdir(), "scaivault-cli-home-"));
    const set = await cli(["config", "set", "base_url", vault().baseUrl], { HOME: own });
    expect(set.code).toBe(0);
    const login = await cli(["auth", "login", "--token", vault().adminToken], { HOME: own });
    expect(login.stderr).toBe("");
    expect(login.code).toBe(0);
    const file = join(own, ".scaivault", "config.json");
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ base_url: vault().baseUrl, token: vault().adminToken });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const list = await cli(["config", "list"], { HOME: own });
    expect(list.stdout).not.toContain(vault().adminToken);
    const whoami = await cli(["auth", "whoami", "--json"], { HOME: own });
    expect(whoami.code).toBe(0);
    expect(JSON.parse(whoami.stdout)).toMatchObject({ identity_id: "system:bootstrap" });
    const badLogin = await cli(["auth", "login", "--token", "skt_wrong"], { HOME: own });
    expect(badLogin.code).toBe(2);
    expect(badLogin.stderr).toContain("token_invalid");
    expect(badLogin.stderr).not.toContain("skt_wrong");
    const envWins = await cli(["auth", "whoami"], { HOME: own, SCAIVAULT_TOKEN: "skt_wrong" });
    expect(envWins.code).toBe(2);
  });

  it("writes and reads secrets: k=v pairs, a JSON file on stdin, @file values, --field, --json", async () => {
    const w = await cli(["secrets", "write", "cli/app/db", "user=app", "password=s3cret"], env());
    expect([w.code, w.stdout]).toEqual([0, "wrote cli/app/db version 1\n"]);
    const field = await cli(["secrets", "read", "cli/app/db", "--field", "password"], env());
    expect([field.code, field.stdout]).toEqual([0, "s3cret\n"]);
    const table = await cli(["secrets", "read", "cli/app/db"], env());
    expect(table.stdout).toMatch(/password\s+s3cret/);
    const json = await cli(["secrets", "write", "cli/app/cfg", "--type", "json", "--json-file", "-", "--expires-in", "30d", "--json"], env(), '{"client_id": "3MVG9", "n": 2}');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ path: "cli/app/cfg", secret_type: "json", version: 1 });
    const read = JSON.parse((await cli(["secrets", "read", "cli/app/cfg", "--json"], env())).stdout);
    expect(read.data).toEqual({ client_id: "3MVG9", n: 2 });
    expect(read.expires_at).not.toBeNull();
    const keyFile = join(home(), "key.pem");
    writeFileSync(keyFile, "-----BEGIN KEY-----\nabc\n");
    await cli(["secrets", "write", "cli/app/db", "key=@" + keyFile, "pin=-"], env(), "1234\n");
    const v2 = JSON.parse((await cli(["secrets", "read", "cli/app/db", "--json"], env())).stdout);
    expect([v2.version, v2.data]).toEqual([2, { key: "-----BEGIN KEY-----\nabc", pin: "1234" }]);
    const previous = await cli(["secrets", "read", "cli/app/db", "--version", "1", "--field", "user"], env());
    expect(previous.stdout).toBe("app\n");
    const versions = await cli(["secrets", "versions", "cli/app/db"], env());
    expect(versions.stdout).toMatch(/2\s+current/);
    const expiring = JSON.parse((await cli(["secrets", "expiring", "--days", "31", "--json"], env())).stdout);
    expect(expiring.data.map((s: { path: string }) => s.path)).toEqual(["cli/app/cfg"]);
  });

  it("lists as a table or as {secrets: [...]} JSON, and deletes soft or hard", async () => {
    for (const name of ["x", "y"]) await cli(["secrets", "write", `cli/list/${name}`, "v=1"], env());
    const table = await cli(["secrets", "list", "--prefix", "cli/list/"], env());
    expect(table.stdout.split("\n")[0]).toMatch(/^PATH\s+VERSION/);
    const json = JSON.parse((await cli(["secrets", "list", "--prefix", "cli/list/", "--limit", "1", "--json"], env())).stdout);
    expect(json.secrets.map((s: { path: string }) => s.path)).toEqual(["cli/list/x"]);
    expect(json.has_more).toBe(true);
    expect((await cli(["secrets", "delete", "cli/list/x"], env())).code).toBe(0);
    const gone = await cli(["secrets", "read", "cli/list/x"], env());
    expect(gone.code).toBe(4);
    expect(gone.stderr).toMatch(/^error: secret_not_found: .*\[req_/);
    expect((await cli(["secrets", "undelete", "cli/list/x"], env())).code).toBe(0);
    expect((await cli(["secrets", "delete", "cli/list/x", "--hard"], env())).code).toBe(0);
    expect((await cli(["secrets", "undelete", "cli/list/x"], env())).code).toBe(4);
  });

  it("exits with the documented codes: 2 authentication, 3 authorization, 4 not found, 5 validation, 1 general", async () => {
    const noToken = await cli(["secrets", "read", "cli/a"], { HOME: home(), SCAIVAULT_URL: vault().baseUrl });
    expect([noToken.code, noToken.stderr]).toEqual([2, expect.stringContaining("authentication_required")]);
    expect((await cli(["secrets", "read", "cli/a"], env({ SCAIVAULT_TOKEN: "skt_bad" }))).code).toBe(2);
    expect((await cli(["secrets", "read", "cli/none"], env())).code).toBe(4);
    const badPath = await cli(["secrets", "read", "cli/../x"], env());
    expect([badPath.code, badPath.stderr]).toEqual([5, expect.stringContaining("invalid_path")]);
    const badField = await cli(["secrets", "write", "cli/a", "v=1", "--max-versions", "0"], env());
    expect([badField.code, badField.stderr]).toEqual([5, expect.stringContaining("validation_error")]);
    expect((await cli(["secrets", "write", "cli/a", "novalue"], env())).code).toBe(5);
    expect((await cli(["nonsense"], env())).code).toBe(5);
    const down = await cli(["secrets", "read", "cli/a"], env({ SCAIVAULT_URL: "http://127.0.0.1:1" }));
    expect([down.code, down.stderr]).toEqual([1, expect.stringContaining("network_error")]);

    const issued = await vault().admin.post("/v1/auth/tokens", { identity_id: "sa:cli-reader", identity_type: "service_account", scopes: ["secrets:read"] });
    expect(issued.status, issued.text).toBe(201);
    const denied = await cli(["secrets", "read", "cli/app/db"], env({ SCAIVAULT_TOKEN: issued.body.token }));
    expect([denied.code, denied.stderr]).toEqual([3, expect.stringContaining("access_denied")]);
    const scope = await cli(["secrets", "write", "cli/app/db", "v=1"], env({ SCAIVAULT_TOKEN: issued.body.token }));
    expect([scope.code, scope.stderr]).toEqual([3, expect.stringContaining("insufficient_scope")]);
  });

  it("SCAIVAULT_PARTNER_ID of another partner: commands are refused with context_mismatch and exit 3; whoami still answers", async () => {
    await cli(["secrets", "write", "cli/ctx/db", "password=p"], env());
    const refused = await cli(["secrets", "read", "cli/ctx/db", "--field", "password"], env({ SCAIVAULT_PARTNER_ID: "ptn_elsewhere" }));
    expect([refused.code, refused.stdout]).toEqual([3, ""]);
    expect(refused.stderr).toMatch(/^error: context_mismatch: .*ptn_default.*ptn_elsewhere/);
    const me = await cli(["auth", "whoami", "--json"], env({ SCAIVAULT_PARTNER_ID: "ptn_elsewhere" }));
    expect([me.code, JSON.parse(me.stdout).partner_id]).toEqual([0, "ptn_default"]);
    const own = await cli(["secrets", "read", "cli/ctx/db", "--field", "password"], env({ SCAIVAULT_PARTNER_ID: "ptn_default" }));
    expect([own.code, own.stdout.trim()]).toEqual([0, "p"]);
  });
});
