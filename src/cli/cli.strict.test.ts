import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { flagsFromUsage, parseArgs, suggest } from "./args.js";
import { cli, useCliHome } from "./cli-harness.js";
import { GROUPS } from "./groups.js";

describe("scaivault CLI: strict flags, help, completion (no server needed)", () => {
  const home = mkdtempSync(join(tmpdir(), "scaivault-cli-strict-"));
  const env = { HOME: home, SCAIVAULT_URL: "http://127.0.0.1:1", SCAIVAULT_TOKEN: "skt_unused" };

  it("infers flags from usage lines: --name VALUE takes a value, a bare --name is a switch", () => {
    expect(flagsFromUsage("create --name N --interval 90d [--grace-period 48h] [--auto-generate] [--description D] | create --file F")).toEqual({
      name: "string", interval: "string", "grace-period": "string", "auto-generate": "boolean", description: "string", file: "string",
    });
    expect(flagsFromUsage("delete <path> [--hard] [--permanent]")).toEqual({ hard: "boolean", permanent: "boolean" });
    expect(parseArgs(["x", "--auto-generate", "--name", "n"], { "auto-generate": "boolean", name: "string" }).flags.get("auto-generate")).toEqual(["true"]);
    expect(parseArgs(["a", "--", "cmd", "--x"], {}).rest).toEqual(["cmd", "--x"]);
    expect(suggest("feild", ["field", "version"])).toBe("field");
    expect(suggest("zzz", ["field", "version"])).toBeNull();
  });

  it("an unknown flag is an error with exit 5 and a did-you-mean, before any request is made", async () => {
    const typo = await cli(["secrets", "read", "app/db", "--feild", "password"], env);
    expect([typo.code, typo.stdout, typo.stderr]).toEqual([5, "", "error: unknown flag --feild; did you mean --field? (see --help)\n"]);
    const far = await cli(["secrets", "list", "--frobnicate"], env);
    expect([far.code, far.stderr]).toEqual([5, "error: unknown flag --frobnicate (see --help)\n"]);
    const short = await cli(["secrets", "list", "-x"], env);
    expect(short.code).toBe(5);
    const badFormat = await cli(["secrets", "list", "-o", "xml"], env);
    expect([badFormat.code, badFormat.stderr]).toEqual([5, expect.stringContaining("-o must be one of table, json, yaml, env")]);
    const sub = await cli(["secrets", "reed", "app/db"], env);
    expect([sub.code, sub.stderr]).toEqual([5, expect.stringContaining('did you mean "secrets read"?')]);
    const group = await cli(["secretz", "list"], env);
    expect([group.code, group.stderr]).toEqual([5, expect.stringContaining('did you mean "secrets"?')]);
    const missing = await cli(["rotation", "create", "--name"], env);
    expect([missing.code, missing.stderr]).toEqual([5, "error: --name needs a value\n"]);
  });

  it("the documented switch --auto-generate needs no value (it fails later only for want of a server)", async () => {
    const run = await cli(["rotation", "create", "--name", "q", "--interval", "90d", "--auto-generate"], env);
    expect(run.stderr).toContain("network_error");
    expect(run.code).toBe(1);
  });

  it("every group and every command prints its own help with examples", async () => {
    for (const group of GROUPS) {
      const groupHelp = await cli([group.name, "--help"], env);
      expect(groupHelp.code).toBe(0);
      // A group that is one command (run, export, import, agent) prints that command's help.
      const single = Object.keys(group.commands).join() === "";
      expect(groupHelp.stdout).toContain(single ? `Usage: scaivault ${group.name} ${group.commands[""].usage}` : `scaivault ${group.name} — ${group.summary}`);
      expect(groupHelp.stdout).toContain("Examples:");
    }
    // Every command of two groups end to end (each is a process start), and all of them in-process below.
    for (const [group, subs] of [["secrets", ["read", "write", "list", "delete"]], ["rotation", ["create", "assign"]], ["audit", ["checkpoints"]]] as const) {
      for (const sub of subs) {
        const help = await cli([group, sub, "--help"], env);
        expect(help.code).toBe(0);
        expect(help.stdout).toMatch(new RegExp(`^Usage: scaivault ${group} ${sub}`));
        expect(help.stdout).toMatch(new RegExp(`Examples:\\n  scaivault ${group} ${sub}`));
      }
    }
    for (const group of GROUPS) {
      for (const [sub, command] of Object.entries(group.commands)) {
        expect(command.examples.length, `${group.name} ${sub}`).toBeGreaterThan(0);
        for (const example of command.examples) expect(example.startsWith(`scaivault ${group.name}`) || /^\S+=\S+ scaivault|^(echo|cat|source) /.test(example), example).toBe(true);
      }
    }
  });

  it("completion bash|zsh|fish names the groups, commands and flags; bash parses", async () => {
    const bash = await cli(["completion", "bash"], env);
    expect(bash.code).toBe(0);
    expect(bash.stdout).toContain("complete -o default -F _scaivault scaivault");
    expect(bash.stdout).toContain('secrets) subs="read write list delete undelete versions metadata rotate expiring"');
    expect(bash.stdout).toMatch(/"secrets read"\) flags="[^"]*--field/);
    const file = join(home, "completion.bash");
    writeFileSync(file, bash.stdout);
    // bash itself completes `scaivault secrets re` to `read`.
    const completed = execFileSync("bash", ["-c", `source ${file}; COMP_WORDS=(scaivault secrets re); COMP_CWORD=2; _scaivault; echo "\${COMPREPLY[@]}"`], { encoding: "utf8" });
    expect(completed.trim()).toBe("read");
    const zsh = await cli(["completion", "zsh"], env);
    expect(zsh.stdout.split("\n")[0]).toBe("#compdef scaivault");
    const fish = await cli(["completion", "fish"], env);
    expect(fish.stdout).toContain('complete -c scaivault -n "__fish_use_subcommand" -a secrets');
    expect(fish.stdout).toMatch(/__fish_seen_subcommand_from secrets; and __fish_seen_subcommand_from read" -l field/);
    expect((await cli(["completion", "tcsh"], env)).code).toBe(5);
  });
});

describeEachBackend("scaivault CLI: -o json|yaml|table|env", (backend) => {
  const vault = useVault(backend);
  const { env } = useCliHome(vault);

  it("prints one secret in each format; --json stays", async () => {
    expect((await cli(["secrets", "write", "fmt/app/db", "user=app", "pass-word=it's"], env())).code).toBe(0);
    const json = JSON.parse((await cli(["secrets", "read", "fmt/app/db", "-o", "json"], env())).stdout);
    expect(json.data).toEqual({ user: "app", "pass-word": "it's" });
    const legacy = JSON.parse((await cli(["secrets", "read", "fmt/app/db", "--json"], env())).stdout);
    expect(legacy.data).toEqual(json.data);
    const yaml = parseYaml((await cli(["secrets", "read", "fmt/app/db", "--output=yaml"], env())).stdout);
    expect(yaml.data).toEqual(json.data);
    const dotenv = await cli(["secrets", "read", "fmt/app/db", "-o", "env"], env());
    expect(dotenv.stdout).toBe("USER=app\nPASS_WORD='it'\\''s'\n");
    const table = await cli(["secrets", "read", "fmt/app/db", "-o", "table"], env());
    expect(table.stdout).toMatch(/user\s+app/);
    const list = parseYaml((await cli(["secrets", "list", "--prefix", "fmt/", "-o", "yaml"], env())).stdout);
    expect(list.secrets.map((s: { path: string }) => s.path)).toEqual(["fmt/app/db"]);
  });
});
