import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { cli, useCliHome } from "./cli-harness.js";

describeEachBackend("scaivault CLI: policies, tokens, rotation, webhooks, subscriptions, audit, server", (backend) => {
  const vault = useVault(backend);
  const { home, env } = useCliHome(vault);
  const json = async (args: string[], stdin?: string, extra?: Record<string, string>) => {
    const run = await cli([...args, "--json"], env(extra), stdin);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout);
  };

  it("policies from a file, bindings, a dry-run test, and a scoped token used by the CLI", async () => {
    await cli(["secrets", "write", "cli/m/db", "password=p"], env());
    const file = join(home(), "policy.json");
    writeFileSync(file, JSON.stringify({ name: "cli-read", rules: [{ path_pattern: "cli/m/*", permissions: ["read"] }] }));
    const policy = await json(["policies", "create", "--file", file]);
    expect(policy.id).toMatch(/^pol_/);
    const again = await cli(["policies", "create", "--file", file], env());
    expect([again.code, again.stderr]).toEqual([1, expect.stringContaining("already_exists")]);
    const binding = await json(["policies", "bind", policy.id, "--identity", "sa:cli-bot"]);
    expect(binding).toMatchObject({ identity_type: "service_account", identity_id: "sa:cli-bot" });
    const bindings = await cli(["policies", "bindings", policy.id], env());
    expect(bindings.stdout).toMatch(/service_account\s+sa:cli-bot/);
    expect((await json(["policies", "test", "--identity", "sa:cli-bot", "--path", "cli/m/db"])).allowed).toBe(true);
    const token = await json(["tokens", "create", "--identity", "sa:cli-bot", "--scopes", "secrets:read", "--description", "cli test"]);
    expect(token.token).toMatch(/^skt_/);
    const asBot = await cli(["secrets", "read", "cli/m/db", "--field", "password"], env({ SCAIVAULT_TOKEN: token.token }));
    expect([asBot.code, asBot.stdout]).toEqual([0, "p\n"]);
    const tokens = await cli(["tokens", "list"], env());
    expect(tokens.stdout).toContain(token.id);
    expect(tokens.stdout).not.toContain(token.token);
    expect((await cli(["tokens", "revoke", token.id], env())).code).toBe(0);
    expect((await cli(["secrets", "read", "cli/m/db"], env({ SCAIVAULT_TOKEN: token.token }))).code).toBe(2);
    expect((await cli(["policies", "delete", policy.id], env())).code).toBe(1);
    expect((await cli(["policies", "delete", policy.id, "--force"], env())).code).toBe(0);
    expect((await cli(["policies", "get", policy.id], env())).code).toBe(4);
  });

  it("rotation policies, assignment and secrets rotate", async () => {
    await cli(["secrets", "write", "cli/rot/sf", "client_id=a"], env());
    const policy = await json(["rotation", "create", "--name", "cli-quarterly", "--interval", "90d", "--grace-period", "48h"]);
    expect(policy).toMatchObject({ name: "cli-quarterly", interval: "90d" });
    expect((await cli(["rotation", "assign", policy.id, "cli/rot/sf"], env())).code).toBe(0);
    expect(await json(["secrets", "rotate", "cli/rot/sf"])).toMatchObject({ path: "cli/rot/sf", action: "due" });
    const list = await cli(["rotation", "list"], env());
    expect(list.stdout).toContain("cli-quarterly");
    const unassigned = await cli(["secrets", "rotate", "cli/m/none"], env());
    expect(unassigned.code).toBe(4);
  });

  it("webhooks, a polling subscription from stdin, audit logs and verify, server status", async () => {
    const hook = await json(["webhooks", "create", "--name", "cli-hook", "--url", "http://127.0.0.1:9/hook", "--secret", "whsec_cli", "--events", "secret.created"]);
    expect(hook.id).toMatch(/^wh_/);
    expect(JSON.stringify(hook)).not.toContain("whsec_cli");
    expect((await cli(["webhooks", "list"], env())).stdout).toContain("cli-hook");
    const sub = await json(["subscriptions", "create", "--file", "-"], JSON.stringify({ name: "cli-poll", paths: ["cli/poll/**"], events: ["secret.*"], delivery: { type: "polling" } }));
    await cli(["secrets", "write", "cli/poll/a", "v=1"], env());
    const polled = await json(["subscriptions", "poll", sub.id, "--timeout", "5"]);
    expect(polled.events.map((e: { path: string }) => e.path)).toContain("cli/poll/a");
    const logs = await json(["audit", "logs", "--path-prefix", "cli/poll/"]);
    expect(logs.logs.some((l: { action: string }) => l.action === "write")).toBe(true);
    const verify = await cli(["audit", "verify"], env());
    expect([verify.code, verify.stdout]).toEqual([0, expect.stringMatching(/^ok: \d+ entries verified/)]);
    const status = await cli(["server", "status"], env());
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/health\s+healthy/);
  });
});
