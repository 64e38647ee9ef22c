import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import { expect, it } from "vitest";
import { describeEachBackend, scratchDatabase, type BackendName } from "../testing/backends.js";
import { ApiClient, startVault } from "../testing/harness.js";
import { inFlight, until } from "../testing/observe.js";
import { freePort } from "../testing/ports.js";

/** A PUT whose body is half sent: in flight until `finish()`. */
function slowPut(baseUrl: string, token: string, path: string, body: string) {
  let settle!: (value: { status: number; connection: string | undefined; text: string } | Error) => void;
  const done = new Promise<{ status: number; connection: string | undefined; text: string } | Error>((resolve) => (settle = resolve));
  const req = httpRequest(new URL(`/v1/secrets/${path}`, baseUrl), {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) },
  }, (res) => {
    let text = "";
    res.on("data", (chunk) => (text += chunk));
    res.on("end", () => settle({ status: res.statusCode ?? 0, connection: res.headers.connection, text }));
  });
  req.on("error", (error) => settle(error));
  const half = Math.floor(body.length / 2);
  req.write(body.slice(0, half));
  return { finish: () => req.end(body.slice(half)), done };
}

function waitForOutput(child: ChildProcess, pattern: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output so far:\n${seen}`)), ms);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve(seen);
      }
    };
    child.stderr!.on("data", onData);
    child.stdout!.on("data", onData);
  });
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve({ code: child.exitCode, signal: null });
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
}

async function startServerProcess(env: Record<string, string>): Promise<{ child: ChildProcess; baseUrl: string; logs: () => string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? "", BIND_ADDRESS: `127.0.0.1:${port}`, LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  await waitForOutput(child, /ScaiVault listening on/, 30_000);
  return { child, baseUrl: `http://127.0.0.1:${port}`, logs: () => output };
}

async function runShutdownScenario(backend: BackendName, signal: NodeJS.Signals): Promise<void> {
  const database = await scratchDatabase(backend);
  const token = `skt_${randomBytes(32).toString("base64url")}`;
  const env = { DATABASE_URL: database.url, KMS_LOCAL_KEY: randomBytes(32).toString("base64"), SCAIVAULT_BOOTSTRAP_TOKEN: token };
  let server = await startServerProcess(env);
  try {
    const admin = new ApiClient(server.baseUrl, token);
    expect((await admin.put("/v1/secrets/shutdown/before", { data: { v: "before" } })).status).toBe(201);

    const pending = slowPut(server.baseUrl, token, "shutdown/in-flight", JSON.stringify({ data: { v: "in-flight" } }));
    // The signal must find the write in flight: wait until the server counts it, not for a while.
    await inFlight(server.baseUrl, "write");
    const exited = exitOf(server.child);
    server.child.kill(signal);
    await waitForOutput(server.child, /shutting down/, 10_000);

    // Not accepting: a new connection is refused while the in-flight request is still open. The
    // node drains first (new requests 503 draining) and stops listening once its background work
    // has stopped, which takes longer on a loaded machine: wait for the refusal, and require every
    // answer on the way to be the draining 503.
    const refused = await until("new connections refused", async () => {
      const outcome = await fetch(`${server.baseUrl}/v1/health`).then((response) => response, (error: Error) => error);
      if (outcome instanceof Error) return outcome;
      expect(outcome.status).toBe(503);
      return false;
    }, 30_000);
    expect(refused).toBeInstanceOf(Error);
    expect(server.child.exitCode).toBeNull();

    pending.finish();
    const answer = await pending.done;
    expect(answer).not.toBeInstanceOf(Error);
    expect((answer as { status: number }).status).toBe(201);
    expect((answer as { connection?: string }).connection).toBe("close");

    const { code } = await exited;
    expect(code).toBe(0);
    expect(server.logs()).not.toContain(token);

    // Everything answered before the exit is durable, its audit entry included.
    server = await startServerProcess(env);
    const again = new ApiClient(server.baseUrl, token);
    expect((await again.get("/v1/secrets/shutdown/in-flight")).body.data).toEqual({ v: "in-flight" });
    expect((await again.get("/v1/secrets/shutdown/before")).body.data).toEqual({ v: "before" });
    const audit = await again.get("/v1/audit/logs?action=write&path_prefix=shutdown/in-flight");
    expect(audit.status).toBe(200);
    expect(audit.body.logs.some((entry: { secret_path: string; success: boolean }) => entry.secret_path === "shutdown/in-flight" && entry.success)).toBe(true);
    server.child.kill("SIGTERM");
    expect((await exitOf(server.child)).code).toBe(0);
  } finally {
    if (server.child.exitCode === null) server.child.kill("SIGKILL");
    await database.drop();
  }
}

describeEachBackend("graceful shutdown", (backend) => {
  it("on SIGTERM stops accepting, finishes the in-flight write, and exits 0 with nothing lost", async () => {
    await runShutdownScenario(backend, "SIGTERM");
  }, 90_000);

  it("treats SIGINT the same way", async () => {
    await runShutdownScenario(backend, "SIGINT");
  }, 90_000);

  it("answers a request that arrives while draining with 503 service_unavailable and Retry-After", async () => {
    const node = await startVault(backend);
    const url = new URL(node.baseUrl);
    // A connection whose request has begun is not idle, so closing keeps it; its request completes
    // only once the vault is draining.
    const accepted = new Promise<Socket>((resolve) => node.vault.app.server.once("connection", resolve));
    const socket = connect(Number(url.port), url.hostname);
    let raw = "";
    socket.on("data", (chunk) => (raw += chunk));
    const socketClosed = new Promise((resolve) => socket.on("close", resolve));
    const begun = "GET /v1/secrets HTTP/1.1\r\nHost: vault\r\n";
    socket.write(begun);
    // Observable: the server accepted the connection and read the request's first bytes.
    const serverSide = await accepted;
    await until("the request's first bytes read by the server", () => serverSide.bytesRead >= begun.length, 30_000, 10);
    // close() marks the node draining before its first await: the rest of the request arrives
    // while it drains.
    const closing = node.vault.close();
    socket.write(`Authorization: Bearer ${node.adminToken}\r\n\r\n`);
    await socketClosed;
    await closing;
    await node.database.drop();
    const [head, body] = raw.split("\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 503 /);
    expect(head).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(head).toMatch(/\r\nconnection: close\r\n/i);
    const parsed = JSON.parse(body);
    expect(parsed.error).toMatchObject({ code: "service_unavailable", details: { reason: "draining" } });
    expect(head).toContain(`x-request-id: ${parsed.error.request_id}`);
  });
});
