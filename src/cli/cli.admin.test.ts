import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { cli, useCliHome } from "./cli-harness.js";

const exportRoot = mkdtempSync(join(tmpdir(), "scaivault-cli-exports-"));

describeEachBackend("scaivault CLI: secret-policies, tenants, audit export", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_AUDIT_EXPORT_DIR: join(exportRoot, backend) } });
  const { home, env } = useCliHome(vault);
  const json = async (args: string[]) => {
    const run = await cli([...args, "--json"], env());
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout);
  };

  it("secret-policies: create from flags or --json-file, list, get, preview, delete; 4 once gone, 5 on a bad --field", async () => {
    const fromFlags = await json(["secret-policies", "create", "--name", "cli-keys", "--type", "api_key", "--field", "api_key:hex"]);
    expect(fromFlags).toMatchObject({ name: "cli-keys", policy_type: "api_key", fields: [{ name: "api_key", generator: "hex" }] });
    const file = join(home(), "secret-policy.json");
    writeFileSync(file, JSON.stringify({ name: "cli-file", policy_type: "custom", fields: [{ name: "token", generator: "hex" }] }));
    const fromFile = await json(["secret-policies", "create", "--json-file", file]);
    expect(fromFile.id).not.toBe(fromFlags.id);
    const table = await cli(["secret-policies", "list"], env());
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+NAME\s+POLICY_TYPE/);
    expect(table.stdout).toMatch(/cli-keys\s+api_key\s+api_key:hex/);
    expect((await json(["secret-policies", "get", fromFile.id])).name).toBe("cli-file");
    const preview = await json(["secret-policies", "preview", fromFlags.id]);
    expect(preview.data.api_key).toMatch(/^[0-9a-f]+$/);
    const previewTable = await cli(["secret-policies", "preview", fromFlags.id], env());
    expect(previewTable.stdout).toMatch(/api_key\s+[0-9a-f]+/);
    expect((await cli(["secret-policies", "delete", fromFile.id], env())).code).toBe(0);
    const gone = await cli(["secret-policies", "get", fromFile.id], env());
    expect([gone.code, gone.stderr]).toEqual([4, expect.stringMatching(/^error: \w+_not_found: /)]);
    const badField = await cli(["secret-policies", "create", "--name", "x", "--field", "nogenerator"], env());
    expect([badField.code, badField.stderr]).toEqual([5, expect.stringContaining("NAME:GENERATOR")]);
  });

  it("tenants: create with and without --id, list; a duplicate id exits 1, a missing --name 5", async () => {
    const named = await json(["tenants", "create", "--id", "tnt_cli", "--name", "CLI tenant"]);
    expect(named).toMatchObject({ id: "tnt_cli", name: "CLI tenant" });
    const generated = await json(["tenants", "create", "--name", "Generated"]);
    expect(generated.id).toMatch(/^tnt_/);
    const table = await cli(["tenants", "list"], env());
    expect(table.stdout).toMatch(/tnt_cli\s+CLI tenant/);
    expect((await json(["tenants", "list"])).data.map((t: { id: string }) => t.id)).toEqual(expect.arrayContaining(["tnt_cli", generated.id]));
    const again = await cli(["tenants", "create", "--id", "tnt_cli", "--name", "again"], env());
    expect([again.code, again.stderr]).toEqual([1, expect.stringContaining("already_exists")]);
    expect((await cli(["tenants", "create"], env())).code).toBe(5);
  });

  it("audit export to a file destination, exports list/get; 5 outside the export directory or a bad format, 4 for an unknown export", async () => {
    await cli(["secrets", "write", "cli/exp/a", "v=1"], env());
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const created = await json(["audit", "export", "--from", from, "--to", to, "--format", "csv", "--destination", "nightly", "--path-prefix", "cli/exp/"]);
    expect(created.export_id).toMatch(/^exp_/);
    let done: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) {
      done = await json(["audit", "exports", "get", created.export_id]);
      if (done.status === "completed" || done.status === "failed") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(done).toMatchObject({ status: "completed", format: "csv", destination: { type: "file", path: "nightly" } });
    const csv = readFileSync(join(exportRoot, backend, "nightly", `audit-${created.export_id}.csv`), "utf8");
    expect(csv).toContain("cli/exp/a");
    const list = await cli(["audit", "exports"], env());
    expect(list.stdout).toMatch(new RegExp(`${created.export_id}\\s+completed\\s+csv`));
    expect((await json(["audit", "exports", "list"])).data[0].export_id).toBe(created.export_id);
    const outside = await cli(["audit", "export", "--destination", "../elsewhere"], env());
    expect([outside.code, outside.stderr]).toEqual([5, expect.stringContaining("validation_error")]);
    expect((await cli(["audit", "export", "--destination", "d", "--format", "xml"], env())).code).toBe(5);
    expect((await cli(["audit", "exports", "get", "exp_nope"], env())).code).toBe(4);
  });
});
