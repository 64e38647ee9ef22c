import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
// @ts-expect-error s3rver ships no types
import S3rver from "s3rver";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { freePort } from "../testing/ports.js";
import { exportSettled, identityWith } from "./test-fixtures.js";

const BUCKET = "audit-archive";
const CREDENTIALS = { access_key_id: "S3RVER", secret_access_key: "S3RVER" };

interface S3Server {
  run(): Promise<unknown>;
  close(): Promise<void>;
  /** Koa's middleware list: composed when run() starts listening, so a recorder can go first. */
  middleware: Array<(ctx: { method: string; path: string; headers: Record<string, string | undefined> }, next: () => Promise<unknown>) => Promise<unknown>>;
}

/** The x-amz-server-side-encryption header of each PUT, by object path (s3rver keeps only x-amz-meta-*). */
const sseSeen = new Map<string, string | undefined>();

function s3rver(port: number): S3Server {
  const server = new S3rver({ port, address: "127.0.0.1", silent: true, directory: mkdtempSync(join(tmpdir(), "scaivault-s3rver-")), configureBuckets: [{ name: BUCKET }] }) as S3Server;
  server.middleware.unshift(async (ctx, next) => {
    if (ctx.method === "PUT") sseSeen.set(decodeURIComponent(ctx.path), ctx.headers["x-amz-server-side-encryption"]);
    return next();
  });
  return server;
}

async function objectText(port: number, key: string): Promise<string> {
  const client = new S3Client({ region: "us-east-1", endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
  try {
    const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return await object.Body!.transformToString();
  } finally {
    client.destroy();
  }
}

describeEachBackend("audit: exports to S3", (backend) => {
  let port = 0;
  let server: S3Server | null = null;
  beforeAll(async () => {
    port = await freePort();
    server = s3rver(port);
    await server.run();
  });
  afterAll(async () => {
    await server?.close();
  });
  const vault = useVault(backend, { env: { SCAIVAULT_AUDIT_EXPORT_CALL_TIMEOUT: "2s" } });
  const destination = (extra: Record<string, unknown> = {}) => ({ type: "s3", bucket: BUCKET, prefix: "audit/2026", region: "us-east-1", endpoint: `http://127.0.0.1:${port}`, credentials_path: "exports/s3-credentials", server_side_encryption: true, ...extra });

  it("uploads the export with credentials read from a secret, and the manifest matches the object", async () => {
    const t = vault();
    expect((await t.admin.put("/v1/secrets/exports/s3-credentials", { data: CREDENTIALS })).status).toBe(201);
    for (let i = 0; i < 3; i++) await t.admin.put(`/v1/secrets/s3exp/s${i}`, { data: { i } });
    const created = await t.admin.post("/v1/audit/export", { format: "jsonl", filters: { path_prefix: "s3exp/" }, destination: destination() });
    expect(created.status).toBe(202);
    const done = await exportSettled(t.admin, created.body.export_id);
    expect(done).toMatchObject({ status: "completed", record_count: 3, destination: { type: "s3", bucket: BUCKET, prefix: "audit/2026/", server_side_encryption: "AES256", credentials_path: "exports/s3-credentials" } });
    const [file] = done.manifest.files;
    expect(file.path).toBe(`audit/2026/audit-${created.body.export_id}.jsonl`);
    const text = await objectText(port, file.path);
    // The upload itself asked the store for server-side encryption, not only the export's record.
    expect(sseSeen.get(`/${BUCKET}/${file.path}`)).toBe("AES256");
    expect(file.sha256).toBe(createHash("sha256").update(text).digest("hex"));
    expect(text.trim().split("\n").map((l) => JSON.parse(l).secret_path)).toEqual(["s3exp/s0", "s3exp/s1", "s3exp/s2"]);
    // The keys are in no answer and no audit entry.
    const everything = JSON.stringify([done, (await t.admin.get("/v1/audit/logs?action=export_created")).body]);
    expect(everything).not.toContain(CREDENTIALS.secret_access_key);
  });

  it("reads the credentials with the caller's policies, and checks the destination", async () => {
    const t = vault();
    const exporter = await identityWith(t, { id: "sa:s3-exporter", type: "service_account", scopes: ["audit:export", "audit:read"], rules: [{ path_pattern: "s3exp/**", permissions: ["read"] }] });
    const denied = await exporter.post("/v1/audit/export", { format: "jsonl", destination: destination() });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe("access_denied");
    await t.admin.put("/v1/secrets/exports/not-keys", { data: { user: "x" } });
    const wrongShape = await t.admin.post("/v1/audit/export", { format: "jsonl", destination: destination({ credentials_path: "exports/not-keys" }) });
    expect(wrongShape.status).toBe(422);
    expect(wrongShape.body.error.details.fields["destination.credentials_path"]).toContain("access_key_id");
    const noBucket = await t.admin.post("/v1/audit/export", { format: "jsonl", destination: destination({ bucket: undefined }) });
    expect(noBucket.body.error.details.fields).toHaveProperty(["destination.bucket"]);
  });

  it("shows a failed upload as retrying and finishes once the store is back", async () => {
    const t = vault();
    const laterPort = await freePort();
    const created = await t.admin.post("/v1/audit/export", { format: "csv", filters: { path_prefix: "s3exp/" }, destination: destination({ endpoint: `http://127.0.0.1:${laterPort}`, prefix: "" }) });
    expect(created.status).toBe(202);
    const retrying = await exportSettled(t.admin, created.body.export_id, (s) => s === "retrying" || s === "completed" || s === "failed");
    expect(retrying).toMatchObject({ status: "retrying", error: expect.stringContaining("ECONNREFUSED") });
    const late = s3rver(laterPort);
    await late.run();
    try {
      const done = await exportSettled(t.admin, created.body.export_id);
      expect(done).toMatchObject({ status: "completed", error: null });
      const text = await objectText(laterPort, done.manifest.files[0].path);
      expect(text.split("\n")[0]).toMatch(/^id,timestamp,/);
    } finally {
      await late.close();
    }
  }, 120_000);

  it("gives every call a deadline: a store that never answers is a timeout, shown on the export", async () => {
    const t = vault();
    const silent: Server = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const silentPort = (silent.address() as { port: number }).port;
      const created = await t.admin.post("/v1/audit/export", { format: "jsonl", filters: { path_prefix: "s3exp/" }, destination: destination({ endpoint: `http://127.0.0.1:${silentPort}` }) });
      const retrying = await exportSettled(t.admin, created.body.export_id, (s) => s === "retrying" || s === "completed" || s === "failed");
      expect(retrying).toMatchObject({ status: "retrying", error: expect.stringContaining("timeout") });
    } finally {
      silent.close();
    }
  }, 120_000);
});
