import { mkdirSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type TestVault } from "../testing/harness.js";
import { identityWith } from "./test-fixtures.js";

/** A real failure of the audit store: a trigger on the scratch database that refuses every insert. */
async function breakAuditStore(t: TestVault): Promise<void> {
  if (t.backend === "sqlite") {
    await t.vault.db.run("CREATE TRIGGER audit_fail BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit store down'); END");
  } else {
    await t.vault.db.run("CREATE FUNCTION audit_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit store down'; END $$ LANGUAGE plpgsql");
    await t.vault.db.run("CREATE TRIGGER audit_fail BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_fail()");
  }
}

async function repairAuditStore(t: TestVault): Promise<void> {
  await t.vault.db.run(t.backend === "sqlite" ? "DROP TRIGGER audit_fail" : "DROP TRIGGER audit_fail ON audit_log");
}

const exportRoot = mkdtempSync(join(tmpdir(), "scaivault-audit-exports-"));

describeEachBackend("audit: failures and bad input", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_AUDIT_EXPORT_DIR: join(exportRoot, backend) } });

  it("answers 503 and leaks no data when the audit entry cannot be written", async () => {
    const t = vault();
    const secretValue = "do-not-leak-" + Date.now();
    expect((await t.admin.put("/v1/secrets/guarded/one", { data: { password: secretValue } })).status).toBe(201);
    const before = await t.vault.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM audit_log");
    await breakAuditStore(t);
    try {
      const read = await t.admin.get("/v1/secrets/guarded/one");
      expect(read.status).toBe(503);
      expect(read.body.error.code).toBe("service_unavailable");
      expect(read.headers.get("retry-after")).toBe("1");
      expect(read.text).not.toContain(secretValue);

      const write = await t.admin.put("/v1/secrets/guarded/one", { data: { password: "second" } });
      expect(write.status).toBe(503);
      expect(write.body.error.code).toBe("service_unavailable");

      const denied = await t.admin.get("/v1/secrets/guarded/one", { token: "skt_" + "y".repeat(43) });
      expect(denied.status).toBe(503);
    } finally {
      await repairAuditStore(t);
    }
    const after = await t.vault.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM audit_log");
    expect(Number(after!.n)).toBe(Number(before!.n));
    // The refused write changed nothing: still version 1 with the first value.
    const read = await t.admin.get("/v1/secrets/guarded/one");
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ version: 1, data: { password: secretValue } });
    expect((await t.admin.get("/v1/audit/verify")).body.ok).toBe(true);
  });

  it("fails only the requests whose own entry cannot be written, not their batch neighbours", async () => {
    const t = vault();
    if (t.backend === "sqlite") {
      await t.vault.db.run("CREATE TRIGGER audit_poison BEFORE INSERT ON audit_log WHEN NEW.secret_path = 'poison/x' BEGIN SELECT RAISE(ABORT, 'poisoned'); END");
    } else {
      await t.vault.db.run("CREATE FUNCTION audit_poison() RETURNS trigger AS $$ BEGIN IF NEW.secret_path = 'poison/x' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql");
      await t.vault.db.run("CREATE TRIGGER audit_poison BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_poison()");
    }
    try {
      const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => t.admin.get(i % 8 === 0 ? "/v1/secrets/poison/x" : "/v1/secrets/guarded/one")));
      responses.forEach((r, i) => expect(r.status).toBe(i % 8 === 0 ? 503 : 200));
    } finally {
      await t.vault.db.run(t.backend === "sqlite" ? "DROP TRIGGER audit_poison" : "DROP TRIGGER audit_poison ON audit_log");
    }
    expect((await t.admin.get("/v1/audit/verify")).body.ok).toBe(true);
  });

  it("refuses bad filters with field errors and bad cursors with invalid_cursor", async () => {
    const t = vault();
    const cases: Array<[string, number, string, string?]> = [
      ["/v1/audit/logs?from=yesterday", 422, "validation_error", "from"],
      ["/v1/audit/logs?to=2026-13-45T00:00:00Z", 422, "validation_error", "to"],
      ["/v1/audit/logs?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", 422, "validation_error", "from"],
      ["/v1/audit/logs?limit=5000", 422, "validation_error"],
      ["/v1/audit/logs?limit=0", 422, "validation_error"],
      ["/v1/audit/logs?identity_type=robot", 422, "validation_error"],
      ["/v1/audit/logs?success=maybe", 422, "validation_error"],
      ["/v1/audit/logs?action=READ;DROP", 422, "validation_error", "action"],
      ["/v1/audit/logs?bogus=1", 422, "validation_error"],
      ["/v1/audit/logs?cursor=not-a-cursor", 400, "invalid_cursor"],
      ["/v1/audit/secrets/Bad/Path", 400, "invalid_path"],
      ["/v1/audit/secrets/a/%41b", 400, "invalid_path"],
      ["/v1/audit/summary?from=soon", 422, "validation_error", "from"],
    ];
    for (const [url, status, code, field] of cases) {
      const response = await t.admin.get(url);
      expect({ url, status: response.status, code: response.body?.error?.code }).toEqual({ url, status, code });
      if (field) expect(response.body.error.details.fields).toHaveProperty(field);
    }
  });

  it("refuses export destinations outside the export directory", async () => {
    const t = vault();
    const outside = mkdtempSync(join(tmpdir(), "scaivault-outside-"));
    mkdirSync(t.vault.config.auditExportDir, { recursive: true });
    symlinkSync(outside, join(t.vault.config.auditExportDir, "escape"));
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ type: "file", path: "../../etc" }, "destination.path"],
      [{ type: "file", path: "a/../../b" }, "destination.path"],
      [{ type: "file", path: outside }, "destination.path"],
      [{ type: "file", path: "escape" }, "destination.path"],
      [{ type: "file" }, "destination.path"],
      [{ type: "gcs", bucket: "b" }, "destination.type"],
      [{ type: "s3", bucket: "audit-bucket" }, "destination.credentials_path"],
    ];
    for (const [destination, field] of bad) {
      const response = await t.admin.post("/v1/audit/export", { format: "jsonl", destination });
      expect({ destination, status: response.status }).toEqual({ destination, status: 422 });
      expect(response.body.error.details.fields).toHaveProperty(field);
    }
    const badFormat = await t.admin.post("/v1/audit/export", { format: "xml", destination: { type: "file", path: "x" } });
    expect(badFormat.status).toBe(422);
    const unknownField = await t.admin.post("/v1/audit/export", { format: "csv", destination: { type: "file", path: "x" }, compress: true });
    expect(unknownField.status).toBe(422);
    expect((await t.admin.get("/v1/audit/exports/exp_doesnotexist")).body.error.code).toBe("export_not_found");
  });

  it("needs audit:export to export and audit:read to query", async () => {
    const t = vault();
    const auditor = await identityWith(t, { id: "sa:auditor-ro", type: "service_account", scopes: ["audit:read"] });
    const exported = await auditor.post("/v1/audit/export", { format: "jsonl", destination: { type: "file", path: "ro" } });
    expect(exported.status).toBe(403);
    expect(exported.body.error.code).toBe("insufficient_scope");
    expect((await auditor.get("/v1/audit/exports")).body.error.code).toBe("insufficient_scope");
    expect((await t.anonymous.get("/v1/audit/logs")).status).toBe(401);
  });
});

// A commit that fails after the service wrote its entry: only PostgreSQL can defer a trigger to
// COMMIT, so this one runs there (the pipeline logic it checks is the same for both backends).
describeEachBackend("audit: a change whose commit fails", (backend) => {
  const vault = useVault(backend);

  it.skipIf(backend === "sqlite")("records the failure instead of the rolled-back entry", async () => {
    const t = vault();
    await t.vault.db.run("CREATE FUNCTION refuse_commit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$ LANGUAGE plpgsql");
    await t.vault.db.run("CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON secrets DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit()");
    const write = await t.admin.put("/v1/secrets/deferred/fail", { data: { v: 1 } });
    expect(write.status).toBeGreaterThanOrEqual(500);
    const logs = await t.admin.get(`/v1/audit/logs?request_id=${write.headers.get("x-request-id")}`);
    expect(logs.body.logs).toEqual([expect.objectContaining({ action: "write", secret_path: "deferred/fail", success: false })]);
    expect((await t.admin.get("/v1/secrets/deferred/fail")).status).toBe(404);
    expect((await t.admin.get("/v1/audit/verify")).body.ok).toBe(true);
  });
});
