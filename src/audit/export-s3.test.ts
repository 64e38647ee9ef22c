import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { uploadToS3 } from "./export-s3.js";

/**
 * A file that cannot be read (gone, or not a file) fails the upload with its own error: it must
 * never become an 'error' event nobody listens to, which would end the whole process.
 */
let server: Server;
let endpoint = "";
const uncaught: unknown[] = [];
const record = (error: unknown) => void uncaught.push(error);

beforeAll(async () => {
  // Reads whatever body arrives and answers 200 once it ends (an S3 PUT's happy answer).
  server = createServer((request, response) => {
    request.resume();
    request.on("end", () => response.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.on("uncaughtException", record);
});
afterAll(async () => {
  process.off("uncaughtException", record);
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

it("a body that fails to read rejects the upload with the read error, and nothing is thrown outside it", async () => {
  const destination = { bucket: "b", region: "us-east-1", prefix: "", endpoint } as Parameters<typeof uploadToS3>[0];
  const credentials = { accessKeyId: "k", secretAccessKey: "s" };
  // A directory opens for reading and then fails its first read (EISDIR).
  const directory = mkdtempSync(join(tmpdir(), "scaivault-upload-"));
  await expect(uploadToS3(destination, credentials, "audit.jsonl", directory, 5000)).rejects.toMatchObject({ code: "EISDIR" });
  // A file that is gone: the upload fails, and no open of it is left to fail later.
  await expect(uploadToS3(destination, credentials, "audit.jsonl", join(directory, "gone.jsonl"), 5000)).rejects.toMatchObject({ code: "ENOENT" });
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(uncaught).toEqual([]);
});
