import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseWrk, runWrk, wrkInstalled } from "./wrk.js";

// wrk 4.1's report with --latency, as printed (one thread, microsecond and second units mixed).
const REPORT = `Running 8s test @ http://127.0.0.1:9400
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.01ms    2.10ms  1.02s    91.23%
    Req/Sec     3.21k   210.11     3.60k    70.00%
  Latency Distribution
     50%  850.00us
     75%    5.90ms
     90%    7.80ms
     99%    1.20s
  25782 requests in 8.01s, 9.88MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:   3216.30
Transfer/sec:      1.23MB
`;

describe("wrk's report", () => {
  it("gives rate, percentiles in milliseconds, errors and non-2xx answers", () => {
    expect(parseWrk(REPORT)).toEqual({ requestsPerSecond: 3216, p50Ms: 0.85, p99Ms: 1200, errors: 5, non2xx: 7, total: 25782 });
  });

  it("refuses a report without its latency distribution rather than guessing", () => {
    expect(() => parseWrk(REPORT.replace(/^\s+99%.*$/m, ""))).toThrow(/99% latency/);
  });
});

// The load itself, when wrk is installed (.ci/run installs it): every request carries the exact
// body and headers given, and the paths are cycled.
describe.skipIf(!wrkInstalled())("wrk load", () => {
  const seen: { method: string; url: string; body: string; header: string | undefined }[] = [];
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (chunk: string) => (body += chunk));
      req.on("end", () => {
        seen.push({ method: req.method ?? "", url: req.url ?? "", body, header: req.headers["x-probe"] as string | undefined });
        res.writeHead(req.url === "/missing" ? 404 : 200, { "content-type": "text/plain" }).end("ok");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("sends the body byte for byte (quotes before digits, backslashes, newlines, non-ASCII) to each path in turn", async () => {
    seen.length = 0;
    const body = JSON.stringify({ id: "3MVG9", quoted: '"1"2\\3', line: "a\nb\t", text: "é ü 🔑 \u0001" });
    const paths = ["/a?x=1", "/b", "/c"];
    const result = await runWrk({ url: `${base}/unused`, method: "PUT", headers: { "x-probe": 'v"1\\2', "content-type": "application/json" }, body, connections: 2, paths }, 1);
    expect(result.total).toBeGreaterThan(10);
    expect(result.non2xx).toBe(0);
    expect(seen.length).toBeGreaterThanOrEqual(result.total);
    expect(new Set(seen.map((r) => r.url))).toEqual(new Set(paths));
    for (const request of seen) expect(request).toEqual({ method: "PUT", url: request.url, body, header: 'v"1\\2' });
  });

  it("counts answers outside 2xx/3xx", async () => {
    const result = await runWrk({ url: `${base}/missing`, method: "GET", headers: {}, connections: 2 }, 1);
    expect(result.total).toBeGreaterThan(0);
    expect(result.non2xx).toBe(result.total);
  });
});
