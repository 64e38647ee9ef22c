import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";

const dir = mkdtempSync(join(tmpdir(), "scaivault-tls-"));
const certFile = join(dir, "cert.pem");
const keyFile = join(dir, "key.pem");
execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", certFile, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "pipe" });
const cert = readFileSync(certFile);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface TlsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  fingerprint: string;
}

function secureRequest(baseUrl: string, method: string, path: string, token: string | null, body?: unknown): Promise<TlsResponse> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpsRequest(new URL(path, baseUrl), {
      method,
      ca: cert,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(payload ? { "content-type": "application/json" } : {}) },
    }, (res) => {
      const fingerprint = (res.socket as import("node:tls").TLSSocket).getPeerCertificate().fingerprint256;
      let text = "";
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined, fingerprint }));
    });
    req.on("error", reject);
    req.end(payload);
  });
}

describeEachBackend("TLS from TLS_CERT_FILE / TLS_KEY_FILE", (backend) => {
  const vault = useVault(backend, { env: { TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile } });

  it("serves the API over HTTPS with the configured certificate and HSTS", async () => {
    const { baseUrl, adminToken } = vault();
    expect(baseUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const health = await secureRequest(baseUrl, "GET", "/v1/health", null);
    expect(health.status).toBe(200);
    const expected = execFileSync("openssl", ["x509", "-in", certFile, "-noout", "-fingerprint", "-sha256"]).toString().split("=")[1].trim();
    expect(health.fingerprint).toBe(expected);
    expect(health.headers["strict-transport-security"]).toBe("max-age=31536000; includeSubDomains");

    const put = await secureRequest(baseUrl, "PUT", "/v1/secrets/tls/one", adminToken, { data: { password: "over-tls" } });
    expect(put.status).toBe(201);
    const get = await secureRequest(baseUrl, "GET", "/v1/secrets/tls/one", adminToken);
    expect(get.status).toBe(200);
    expect(get.body.data).toEqual({ password: "over-tls" });
  });

  it("does not answer plain HTTP on the TLS port", async () => {
    const { baseUrl } = vault();
    const plain = baseUrl.replace("https:", "http:");
    const outcome = await new Promise<number | Error>((resolve) => {
      const req = httpRequest(`${plain}/v1/health`, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", (error) => resolve(error));
      req.setTimeout(5000, () => req.destroy(new Error("timeout")));
      req.end();
    });
    if (typeof outcome === "number") expect(outcome).toBeGreaterThanOrEqual(400);
    else expect(outcome).toBeInstanceOf(Error);
  });

  it("refuses a client that does not trust the certificate", async () => {
    const { baseUrl } = vault();
    const outcome = await new Promise<Error | number>((resolve) => {
      const req = httpsRequest(`${baseUrl}/v1/health`, (res) => resolve(res.statusCode ?? 0));
      req.on("error", resolve);
      req.end();
    });
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as NodeJS.ErrnoException).code).toBe("DEPTH_ZERO_SELF_SIGNED_CERT");
  });
});
