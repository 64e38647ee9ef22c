import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { abandonmentOf } from "./abandonment.js";
import type { Caller, RequestContext } from "./context.js";

/** A server whose handler gets the caller's abandonment signal and answers when the test says so. */
async function serverWithSignals() {
  const seen: { signal: AbortSignal; response: ServerResponse }[] = [];
  const server = createServer((_request: IncomingMessage, response: ServerResponse) => {
    const ctx = { response } as RequestContext;
    const caller = { ctx } as Caller;
    const signal = abandonmentOf(caller)!;
    expect(abandonmentOf(caller)).toBe(signal);
    seen.push({ signal, response });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, seen, port: (server.address() as AddressInfo).port };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(check()).toBe(true);
};

describe("abandonmentOf", () => {
  let close: (() => void) | undefined;
  afterEach(() => close?.());

  it("aborts when the client closes before the answer, and not after an answer was written", async () => {
    const { server, seen, port } = await serverWithSignals();
    close = () => server.close();
    const leaving = httpRequest({ port, host: "127.0.0.1", path: "/", agent: false });
    leaving.on("error", () => undefined);
    leaving.end();
    await until(() => seen.length === 1);
    expect(seen[0].signal.aborted).toBe(false);
    leaving.destroy();
    await until(() => seen[0].signal.aborted);

    const answered = new Promise<number>((resolve) => httpRequest({ port, host: "127.0.0.1", path: "/", agent: false }, (res) => { res.resume(); res.on("end", () => resolve(res.statusCode!)); }).end());
    await until(() => seen.length === 2);
    seen[1].response.end("ok");
    expect(await answered).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen[1].signal.aborted).toBe(false);
  });

  it("is absent for contexts without an HTTP response (background work)", () => {
    expect(abandonmentOf({ ctx: {} as RequestContext } as Caller)).toBeUndefined();
  });
});
