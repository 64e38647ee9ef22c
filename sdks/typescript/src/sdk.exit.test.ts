/**
 * The TypeScript SDK never keeps a process alive by itself: with the cache on, `close()` lets a
 * script end; and a script that forgot `close()` while the cache's event stream is down (waiting
 * to reconnect) still ends, because the reconnect wait is unref'd. Run as separate processes
 * against the built package, as a user's script would.
 */
import { spawn } from "node:child_process";
import { afterAll, expect, it } from "vitest";
import { describeEachBackend } from "../../../src/testing/backends.js";
import { useVault } from "../../../src/testing/harness.js";
import { freePort } from "../../../src/testing/ports.js";
import { ROOT } from "../../../src/testing/processes.js";

const children = new Set<ReturnType<typeof spawn>>();
// A script that does not end (the failure this file looks for) is not left behind.
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

/** Runs an ES module script from the repository root (so `@scailabs/scaivault` is the built SDK); resolves when it exits. */
function script(code: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", code], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", ...env } });
    children.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (exitCode) => resolve({ code: exitCode, stdout, stderr }));
  });
}

describeEachBackend("TypeScript SDK: a script with the cache on ends", (backend) => {
  const vault = useVault(backend);

  it("after close(), once it has read through the cache and its event stream is connected", async () => {
    await vault().admin.put("/v1/secrets/exit/one", { data: { v: "cached" } });
    const run = await script(
      `import { ScaiVaultClient } from "@scailabs/scaivault";
      const client = new ScaiVaultClient({ baseUrl: process.env.URL, token: process.env.TOKEN, cache: { ttl: 300 } });
      const first = await client.secrets.read("exit/one");
      while (!client.cacheStreamConnected) await new Promise((r) => setTimeout(r, 50));
      const second = await client.secrets.read("exit/one");
      console.log(first.data.v, second.data.v, client.cacheStreamConnected);
      client.close();`,
      { URL: vault().baseUrl, TOKEN: vault().adminToken },
    );
    expect(run.stderr).toBe("");
    expect([run.code, run.stdout]).toEqual([0, "cached cached true\n"]);
  });
});

it("TypeScript SDK: a script that forgot close() ends while the cache's stream waits to reconnect to a vault that is down", async () => {
  const port = await freePort();
  const run = await script(
    `import { ScaiVaultClient } from "@scailabs/scaivault";
    const client = new ScaiVaultClient({ baseUrl: "http://127.0.0.1:" + process.env.PORT, token: "skt_unused", cache: { ttl: 300 }, retries: { maxAttempts: 1 } });
    try { await client.secrets.read("a/b"); } catch (error) { console.log("read failed:", error.name); }`,
    { PORT: String(port) },
  );
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^read failed: /);
});
