import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { BIN, cli, useCliHome } from "./cli-harness.js";

/** A long-running CLI process whose output the test waits on (no sleeps: it waits for text). */
function background(args: string[], env: Record<string, string | undefined>) {
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...env } as NodeJS.ProcessEnv });
  let out = "";
  const waiters: (() => void)[] = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    waiters.splice(0).forEach((w) => w());
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return {
    child,
    output: () => out,
    exited,
    async waitFor(pattern: RegExp): Promise<void> {
      while (!pattern.test(out)) {
        const done = await Promise.race([new Promise<boolean>((r) => waiters.push(() => r(false))), exited.then(() => true)]);
        if (done && !pattern.test(out)) throw new Error(`exited before ${pattern}: ${out}`);
      }
    },
  };
}

const NODE = process.execPath;

describeEachBackend("scaivault CLI workflows: run, export/import, agent", (backend) => {
  const vault = useVault(backend);
  const { home, env } = useCliHome(vault);
  const ok = async (args: string[]) => {
    const run = await cli(args, env());
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    return run.stdout;
  };

  it("run passes secrets as SPEC §11 names them, and passes exit codes and signals through", async () => {
    await ok(["secrets", "write", "wf/app/db", "user=app", "pass.word=p1"]);
    await ok(["secrets", "write", "wf/app/api-key", "value=k1"]);
    await ok(["secrets", "write", "wf/app/nested/db", "user=other"]);
    const printEnv = ["-e", "for (const k of Object.keys(process.env).filter((k) => /^(DB|API|NESTED)/.test(k)).sort()) console.log(k + '=' + process.env[k]); process.exit(7)"];
    const byPath = await cli(["run", "--path", "wf/app/db", "--path", "wf/app/api-key", "--", NODE, ...printEnv], env());
    expect([byPath.code, byPath.stdout]).toEqual([7, "API_KEY=k1\nDB_PASS_WORD=p1\nDB_USER=app\n"]);
    const collision = await cli(["run", "--prefix", "wf/app/", "--", NODE, ...printEnv], env());
    expect([collision.code, collision.stderr]).toEqual([5, expect.stringContaining("DB_USER would come from both wf/app/db#user and wf/app/nested/db#user")]);
    const prefixed = await cli(["run", "--prefix", "wf/app", "--prefix-names", "--", NODE, ...printEnv], env());
    expect([prefixed.code, prefixed.stdout]).toEqual([7, "API_KEY=k1\nDB_PASS_WORD=p1\nDB_USER=app\nNESTED_DB_USER=other\n"]);
    const killed = await cli(["run", "--path", "wf/app/db", "--", NODE, "-e", "process.kill(process.pid, 'SIGTERM')"], env());
    expect(killed.code).toBeNull();
    const signalled = background(["run", "--path", "wf/app/db", "--", NODE, "-e", "console.log('up'); setInterval(() => {}, 1000)"], env());
    await signalled.waitFor(/up/);
    signalled.child.kill("SIGINT");
    expect(await signalled.exited).toEqual({ code: null, signal: "SIGINT" });
    expect((await cli(["run", "--path", "wf/app/db"], env())).code).toBe(5);
    expect((await cli(["run", "--path", "wf/app/none", "--", NODE, "-e", ""], env())).stderr).toContain("cannot read wf/app/none: secret_not_found");
  });

  it("run --watch restarts the command when a used secret changes, or signals it with --signal", async () => {
    await ok(["secrets", "write", "wf/watch/db", "password=old"]);
    const script = "console.log('V=' + process.env.DB_PASSWORD); process.on('SIGHUP', () => console.log('HUP')); setInterval(() => {}, 1000)";
    const watched = background(["run", "--path", "wf/watch/db", "--watch", "--", NODE, "-e", script], env());
    await watched.waitFor(/V=old/);
    await ok(["secrets", "write", "wf/watch/db", "password=new"]);
    await watched.waitFor(/V=new/);
    expect(watched.output()).toContain("a secret changed; restarting the command");
    watched.child.kill("SIGTERM");
    expect((await watched.exited).signal).toBe("SIGTERM");

    const hup = background(["run", "--path", "wf/watch/db", "--watch", "--signal", "HUP", "--", NODE, "-e", script], env());
    await hup.waitFor(/V=new/);
    await ok(["secrets", "write", "wf/watch/db", "password=newer"]);
    await hup.waitFor(/HUP/);
    expect(hup.output()).not.toContain("V=newer");
    hup.child.kill("SIGTERM");
    await hup.exited;
  });

  it("export → import → export is identical (JSON); import is idempotent, has --dry-run, and reads .env", async () => {
    await ok(["secrets", "write", "wf/src/db", "user=app", "password=p\"w\nx"]);
    await ok(["secrets", "write", "wf/src/api/key", "value=k"]);
    const exported = await ok(["export", "--prefix", "wf/src/", "--format", "json"]);
    expect(JSON.parse(exported)).toEqual({ "api/key": { value: "k" }, db: { user: "app", password: "p\"w\nx" } });
    const file = join(home(), "export.json");
    writeFileSync(file, exported);
    const dry = await ok(["import", file, "--prefix", "wf/copy", "--dry-run", "-o", "json"]);
    expect(JSON.parse(dry).secrets.map((s: { action: string }) => s.action)).toEqual(["would create", "would create"]);
    expect((await cli(["secrets", "read", "wf/copy/db"], env())).code).toBe(4);
    const first = JSON.parse(await ok(["import", file, "--prefix", "wf/copy", "-o", "json"]));
    expect(first.secrets.map((s: { action: string }) => s.action)).toEqual(["create", "create"]);
    const second = JSON.parse(await ok(["import", file, "--prefix", "wf/copy/", "-o", "json"]));
    expect(second.secrets).toEqual([{ path: "wf/copy/api/key", action: "unchanged", version: 1 }, { path: "wf/copy/db", action: "unchanged", version: 1 }]);
    expect(await ok(["export", "--prefix", "wf/copy", "--format", "json"])).toBe(exported);
    const yaml = await ok(["export", "--prefix", "wf/copy", "--format", "yaml"]);
    expect(yaml).toContain("api/key:");
    const dotenv = await ok(["export", "--prefix", "wf/copy", "--format", "dotenv"]);
    expect(dotenv).toBe('KEY=k\nDB_USER=app\nDB_PASSWORD="p\\"w\\nx"\n');
    const envFile = join(home(), "app.env");
    writeFileSync(envFile, dotenv + "# a comment\nexport LITERAL='a \"b\"'\n");
    await ok(["import", envFile, "--prefix", "wf/dotenv/"]);
    const read = JSON.parse(await ok(["secrets", "read", "wf/dotenv", "-o", "json"]));
    expect(read.data).toEqual({ KEY: "k", DB_USER: "app", DB_PASSWORD: "p\"w\nx", LITERAL: 'a "b"' });
    expect(JSON.parse(await ok(["import", envFile, "--prefix", "wf/dotenv", "-o", "json"])).secrets[0].action).toBe("unchanged");
  });

  it("agent renders templates into 0600 files (--once), and re-renders them when a secret changes", async () => {
    await ok(["secrets", "write", "wf/agent/db", "user=app", "password=a1"]);
    const dir = home();
    writeFileSync(join(dir, "db.tmpl"), 'url=postgres://{{ secret "wf/agent/db" "user" }}:{{ secret "wf/agent/db" "password" }}@db/app\n');
    writeFileSync(join(dir, "agent.yaml"), ["templates:", "  - source: db.tmpl", "    destination: db.conf", "  - contents: '{{ secret \"wf/agent/db\" }}'", "    destination: db.json", ""].join("\n"));
    const once = await cli(["agent", "--config", join(dir, "agent.yaml"), "--once"], env());
    expect(once.code).toBe(0);
    expect(readFileSync(join(dir, "db.conf"), "utf8")).toBe("url=postgres://app:a1@db/app\n");
    expect(JSON.parse(readFileSync(join(dir, "db.json"), "utf8"))).toEqual({ user: "app", password: "a1" });
    expect(statSync(join(dir, "db.conf")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "db.json")).mode & 0o777).toBe(0o600);

    const agent = background(["agent", "--config", join(dir, "agent.yaml")], env());
    await agent.waitFor(/watching for changes/);
    await ok(["secrets", "write", "wf/agent/db", "user=app", "password=a2"]);
    await agent.waitFor(/rendered .*db\.conf/);
    expect(readFileSync(join(dir, "db.conf"), "utf8")).toBe("url=postgres://app:a2@db/app\n");
    expect(statSync(join(dir, "db.conf")).mode & 0o777).toBe(0o600);
    agent.child.kill("SIGTERM");
    expect((await agent.exited).code).toBe(0);
    writeFileSync(join(dir, "bad.yaml"), "templates: []\n");
    expect((await cli(["agent", "--config", join(dir, "bad.yaml"), "--once"], env())).code).toBe(5);
  });
});
