import { connect, type Socket } from "node:net";
import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { until } from "../testing/observe.js";

/** A socket that sends `head` and then one byte every 200 ms until the server closes it. */
function trickle(baseUrl: string, head: string): { socket: Socket; closed: Promise<string>; received: () => string } {
  const url = new URL(baseUrl);
  const socket = connect(Number(url.port), url.hostname);
  let received = "";
  socket.on("data", (chunk) => (received += chunk.toString("latin1")));
  socket.on("error", () => {});
  const drip = setInterval(() => {
    if (!socket.destroyed) socket.write("a");
  }, 200);
  const closed = new Promise<string>((resolve) =>
    socket.on("close", () => {
      clearInterval(drip);
      resolve(received);
    }),
  );
  socket.write(head);
  return { socket, closed, received: () => received };
}

function within<T>(work: Promise<T>, ms: number): Promise<T | "pending"> {
  return Promise.race([work, new Promise<"pending">((resolve) => setTimeout(() => resolve("pending"), ms).unref())]);
}

// Target: cut at 1 s. Bounds: 10 s (10×).
describeEachBackend("slow clients", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_REQUEST_TIMEOUT: "1s", SCAIVAULT_MAX_CONCURRENT_REQUESTS: "16" } });

  it("cuts a client that trickles its headers", async () => {
    const { baseUrl } = vault();
    const client = trickle(baseUrl, "GET /v1/health HTTP/1.1\r\nHost: vault\r\nX-Slow: ");
    const outcome = await within(client.closed, 10_000);
    client.socket.destroy();
    expect(outcome).not.toBe("pending");
  });

  it("cuts an authenticated client that trickles its body", async () => {
    const { baseUrl, adminToken } = vault();
    const client = trickle(baseUrl, `PUT /v1/secrets/slow/body HTTP/1.1\r\nHost: vault\r\nAuthorization: Bearer ${adminToken}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"data":{"v":"`);
    const outcome = await within(client.closed, 10_000);
    client.socket.destroy();
    expect(outcome).not.toBe("pending");
    expect(outcome).not.toMatch(/^HTTP\/1\.1 20\d/);
  });

  it("cuts an unauthenticated client that keeps trickling a body after its 401", async () => {
    const { baseUrl } = vault();
    const client = trickle(baseUrl, "PUT /v1/secrets/slow/anon HTTP/1.1\r\nHost: vault\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{");
    const outcome = await within(client.closed, 10_000);
    client.socket.destroy();
    expect(outcome).not.toBe("pending");
    expect(outcome).toMatch(/^HTTP\/1\.1 401 /);
  });

  it("does not let 20 slow unauthenticated bodies take the 16 request slots of authenticated clients", async () => {
    const { baseUrl, admin } = vault();
    const slow = Array.from({ length: 20 }, (_, i) => trickle(baseUrl, `PUT /v1/secrets/slow/s${i} HTTP/1.1\r\nHost: vault\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`));
    try {
      // Each has been answered (401) without its body: they hold no slot.
      await until("20 slow bodies answered 401", () => slow.every((s) => /^HTTP\/1\.1 401 /.test(s.received())));
      for (let i = 0; i < 5; i++) {
        const response = await admin.get("/v1/secrets");
        expect(response.status).toBe(200);
      }
      const write = await admin.put("/v1/secrets/slow/legit", { data: { v: "ok" } });
      expect(write.status).toBe(201);
    } finally {
      for (const s of slow) s.socket.destroy();
    }
  });
});
