/** `scaivault audit checkpoints --follow`: prints the checkpoints there are, then each new one once, as it is made. */
import { spawn, type ChildProcess } from "node:child_process";
import { afterEach, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { exited } from "../testing/processes.js";
import { BIN, useCliHome } from "./cli-harness.js";

type Checkpoint = { chain: string; entries: number; head_hash: string };

describeEachBackend("scaivault audit checkpoints --follow", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_AUDIT_CHECKPOINT_INTERVAL: "200ms" } });
  const { env } = useCliHome(vault);
  let child: ChildProcess | null = null;
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited(child);
    }
  });

  /** Polls `read` (every 100 ms) until `ok` holds; the test's timeout bounds the wait. */
  async function until<T>(read: () => Promise<T> | T, ok: (value: T) => boolean): Promise<T> {
    for (;;) {
      const value = await read();
      if (ok(value)) return value;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const listed = async () => (await vault().admin.get("/v1/audit/checkpoints?limit=1000")).body.checkpoints as Checkpoint[];

  it("prints the existing checkpoints, then new ones as the chain moves, each exactly once, as JSON lines", async () => {
    await vault().admin.put("/v1/secrets/cp/one", { data: { v: "1" } });
    const initial = await until(listed, (list) => list.length > 0);
    let stdout = "";
    let stderr = "";
    child = spawn(process.execPath, [BIN, "audit", "checkpoints", "--follow", "-o", "json"], { env: { PATH: process.env.PATH, ...env({ SCAIVAULT_FOLLOW_INTERVAL: "1" }) } as NodeJS.ProcessEnv });
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    const lines = () => stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Checkpoint);
    const printed = (c: Checkpoint) => lines().some((l) => l.chain === c.chain && l.head_hash === c.head_hash);
    await until(lines, () => initial.every(printed));

    // The chain moves: a checkpoint with more entries is made, and the follower prints it.
    const top = Math.max(...initial.map((c) => c.entries));
    await vault().admin.put("/v1/secrets/cp/two", { data: { v: "2" } });
    const later = await until(listed, (list) => list.some((c) => c.entries > top));
    const fresh = later.filter((c) => c.entries > top);
    await until(lines, () => fresh.every(printed));
    expect(child.exitCode).toBeNull();
    expect(stderr).toBe("");

    const seen = lines().map((l) => `${l.chain}:${l.entries}:${l.head_hash}`);
    expect(new Set(seen).size).toBe(seen.length);
    for (const line of lines()) expect(line).toMatchObject({ chain: expect.any(String), entries: expect.any(Number), head_hash: expect.any(String) });
  });
});
