import { existsSync, mkdirSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { startVault, useVault } from "../testing/harness.js";
import { buildVault, type Vault } from "../app.js";
import { eventually } from "../events/test-receiver.js";

const base = mkdtempSync(join(tmpdir(), "scaivault-audit-export-errors-"));

describeEachBackend("audit: export refusals and interrupted exports", (backend) => {
  const root = join(base, backend, "root");
  const outside = join(base, backend, "outside");
  const vault = useVault(backend, { env: { SCAIVAULT_AUDIT_EXPORT_DIR: root, SCAIVAULT_AUDIT_EXPORT_LEASE: "300ms" } });

  it("refuses a symlink out of the export root without creating anything through it, and never names the server's directory", async () => {
    const t = vault();
    mkdirSync(root, { recursive: true });
    mkdirSync(outside, { recursive: true });
    symlinkSync(outside, join(root, "escape"));
    const response = await t.admin.post("/v1/audit/export", { format: "jsonl", destination: { type: "file", path: "escape/nested/deeper" } });
    expect(response.status).toBe(422);
    expect(response.body.error.details.fields["destination.path"]).toBe("must be a directory inside the export directory");
    expect(existsSync(join(outside, "nested"))).toBe(false);
    const absolute = await t.admin.post("/v1/audit/export", { format: "jsonl", destination: { type: "file", path: "/etc/scaivault" } });
    expect(absolute.status).toBe(422);
    for (const text of [response.text, absolute.text]) {
      expect(text).not.toContain(root);
      expect(text).not.toContain(base);
    }
  });

  it("names the supported destinations when gcs or azure_blob is asked for", async () => {
    const t = vault();
    for (const type of ["gcs", "azure_blob"]) {
      const response = await t.admin.post("/v1/audit/export", { format: "jsonl", destination: { type, bucket: "b", credentials_path: "x/y" } });
      expect(response.status).toBe(422);
      expect(response.body.error.details.fields["destination.type"]).toBe(`${type} is not supported: supported destinations are s3 (any S3-compatible store) and file`);
    }
  });

  it("fails an export left running by a crash, visibly, instead of leaving it running forever", async () => {
    const t = vault();
    // What a node killed mid-export leaves behind: a running export whose lease is not renewed.
    await t.vault.db.run(
      `INSERT INTO audit_exports (id, partner_id, tenant_id, status, format, range_from, range_to, filters, destination, estimated_records, record_count, manifest, error, created_by, created_at, completed_at, lease_until)
       VALUES ('exp_crashed0000000000000', 'ptn_default', 'tnt_default', 'running', 'jsonl', NULL, NULL, '{}', '{"type":"file","path":"x"}', 10, NULL, NULL, NULL, 'user:admin', ?, NULL, ?)`,
      [Date.now() - 5000, Date.now() - 1000],
    );
    let body: { status: string; error: string | null } | undefined;
    for (let i = 0; i < 600; i++) {
      body = (await t.admin.get("/v1/audit/exports/exp_crashed0000000000000")).body;
      if (body?.status !== "running") break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(body).toMatchObject({ status: "failed", error: expect.stringContaining("interrupted") });
  });
});

describeEachBackend("audit: exports interrupted by a crash, at start", (backend) => {
  it("fails an export whose lease ran out when a node starts, and leaves one whose lease is still held running", async () => {
    const first = await startVault(backend);
    let second: Vault | null = null;
    try {
      const insert = (id: string, leaseUntil: number) => first.vault.db.run(
        `INSERT INTO audit_exports (id, partner_id, tenant_id, status, format, range_from, range_to, filters, destination, estimated_records, record_count, manifest, error, created_by, created_at, completed_at, lease_until)
         VALUES (?, 'ptn_default', 'tnt_default', 'running', 'jsonl', NULL, NULL, '{}', '{"type":"file","path":"x"}', 10, NULL, NULL, NULL, 'system:bootstrap', ?, NULL, ?)`,
        [id, Date.now() - 5000, leaseUntil],
      );
      // What a node killed mid-export leaves behind, and a live export of another node.
      await insert("exp_crashedatstart000000", Date.now() - 1000);
      await insert("exp_stillleased000000000", Date.now() + 3_600_000);
      await first.vault.close();
      // The next node's periodic recovery is an hour away: only its start can fail the export.
      const config = { ...first.vault.config, audit: { ...first.vault.config.audit, exportLeaseMs: 3_600_000 } };
      second = await buildVault(config, { logStream: new Writable({ write: (_c, _e, done) => done() }) });
      const db = second.db;
      const status = async (id: string) => (await db.get<{ status: string; error: string | null }>("SELECT status, error FROM audit_exports WHERE id = ?", [id]))!;
      // Target: at start. Bound: 15 s.
      const failed = await eventually(() => status("exp_crashedatstart000000"), (row) => row.status !== "running", 15_000);
      expect(failed).toMatchObject({ status: "failed", error: expect.stringContaining("interrupted") });
      expect((await status("exp_stillleased000000000")).status).toBe("running");
    } finally {
      await second?.close();
      await first.vault.close().catch(() => {});
      await first.database.drop();
    }
  }, 60_000);
});
