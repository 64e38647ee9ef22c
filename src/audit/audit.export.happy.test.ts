import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { exportSettled, identityWith } from "./test-fixtures.js";

const exportRoot = mkdtempSync(join(tmpdir(), "scaivault-audit-exports-"));

describeEachBackend("audit: exports", (backend) => {
  const root = join(exportRoot, backend);
  const vault = useVault(backend, { env: { SCAIVAULT_AUDIT_EXPORT_DIR: root } });

  it("exports the trail as jsonl with a manifest that matches the file", async () => {
    const t = vault();
    for (let i = 0; i < 3; i++) await t.admin.put(`/v1/secrets/exp/s${i}`, { data: { v: i } });
    await t.admin.get("/v1/secrets/exp/s1");
    const created = await t.admin.post("/v1/audit/export", { format: "jsonl", filters: { path_prefix: "exp/" }, destination: { type: "file", path: "nightly" } });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ status: "pending", estimated_records: 4 });
    expect(created.body.export_id).toMatch(/^exp_/);
    const done = await exportSettled(t.admin, created.body.export_id);
    expect(done).toMatchObject({ status: "completed", format: "jsonl", record_count: 4, destination: { type: "file", path: "nightly" } });
    const [file] = done.manifest.files;
    const text = readFileSync(join(root, file.path), "utf8");
    expect(file.sha256).toBe(createHash("sha256").update(text).digest("hex"));
    expect(file.bytes).toBe(Buffer.byteLength(text));
    expect(statSync(join(root, file.path)).mode & 0o777).toBe(0o600);
    const lines = text.trim().split("\n").map((line) => JSON.parse(line));
    expect(lines.map((l) => [l.action, l.secret_path])).toEqual([
      ["write", "exp/s0"],
      ["write", "exp/s1"],
      ["write", "exp/s2"],
      ["read", "exp/s1"],
    ]);
    expect(lines[0].hash).toMatch(/^[0-9a-f]{64}$/);
    // The export request itself is in the trail.
    const logs = await t.admin.get("/v1/audit/logs?action=export_created");
    expect(logs.body.logs[0].extra_data).toMatchObject({ export_id: created.body.export_id, format: "jsonl" });
  });

  it("exports csv, neutralising cells a spreadsheet would run as formulas", async () => {
    const t = vault();
    await t.admin.get("/v1/secrets/exp/s2", { headers: { "user-agent": "=HYPERLINK(\"http://evil\",\"x\")" } });
    const created = await t.admin.post("/v1/audit/export", { format: "csv", filters: { path_prefix: "exp/s2", action: "read" }, destination: { type: "file", path: "csv" } });
    const done = await exportSettled(t.admin, created.body.export_id);
    expect(done).toMatchObject({ status: "completed", record_count: 1 });
    const [header, row] = readFileSync(join(root, done.manifest.files[0].path), "utf8").trim().split("\n");
    expect(header).toBe("id,timestamp,tenant_id,action,identity_type,identity_id,secret_path,source_ip,user_agent,success,duration_ms,request_id,extra_data,prev_hash,hash");
    expect(row).toContain(`"'=HYPERLINK(""http://evil"",""x"")"`);
    expect(row).toContain(",read,system,system:bootstrap,exp/s2,");
  });

  it("exports only what the caller's policies let it read, and lists exports newest first", async () => {
    const t = vault();
    await t.admin.put("/v1/secrets/other/hidden", { data: { v: 1 } });
    const auditor = await identityWith(t, { id: "sa:exporter", type: "service_account", scopes: ["audit:read", "audit:export"], rules: [{ path_pattern: "exp/s0", permissions: ["read"] }] });
    const created = await auditor.post("/v1/audit/export", { format: "jsonl", destination: { type: "file", path: "limited" } });
    expect(created.status).toBe(202);
    const done = await exportSettled(auditor, created.body.export_id);
    const lines = readFileSync(join(root, done.manifest.files[0].path), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.length).toBe(done.record_count);
    for (const line of lines) expect(line.secret_path === "exp/s0" || (line.secret_path === null && line.identity_id === "sa:exporter")).toBe(true);
    expect(lines.some((l) => l.secret_path === "exp/s0")).toBe(true);

    const list = await t.admin.get("/v1/audit/exports?limit=2");
    expect(list.status).toBe(200);
    expect(list.body.data.map((e: { export_id: string }) => e.export_id)[0]).toBe(created.body.export_id);
    expect(list.body.has_more).toBe(true);
    const rest = await t.admin.get(`/v1/audit/exports?limit=2&cursor=${list.body.cursor}`);
    expect(rest.body.data).toHaveLength(1);
    expect(rest.body.has_more).toBe(false);
  });
});
