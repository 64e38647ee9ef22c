/**
 * `scaivault audit checkpoints --follow`: prints the checkpoints there are, then each new one
 * once, as it is made; `--check FILE` compares such a kept copy with what the vault lists now.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { checkpointsOf } from "../audit/test-fixtures.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { exited } from "../testing/processes.js";
import { BIN, cli, useCliHome } from "./cli-harness.js";

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

const CHAIN = "tenant:tnt_default";

describeEachBackend("scaivault audit checkpoints --check: the copy kept off the node (issue 13)", (backend) => {
  // No periodic checkpoint job during the test (its first pass is a minute away): checkpoints are
  // made here, so none is written between the tampering steps.
  const vault = useVault(backend);
  const { env, home } = useCliHome(vault);
  let child: ChildProcess | null = null;
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited(child);
    }
  });

  it("finds a rolled-back chain whose newest checkpoints were deleted too, which the node's own verify no longer can", async () => {
    const t = vault();
    const checkpoints = await checkpointsOf(t);
    for (let i = 0; i < 4; i++) {
      expect((await t.admin.put(`/v1/secrets/kept/s${i}`, { data: { i } })).status).toBe(201);
      await checkpoints.checkpointMovedChains();
    }
    const listed = (await t.admin.get("/v1/audit/checkpoints?limit=1000")).body.checkpoints as Checkpoint[];
    const ours = listed.filter((c) => c.chain === CHAIN);
    expect(ours.length).toBeGreaterThanOrEqual(4);

    // The operator's follower, writing the copy it keeps off the node.
    const kept = join(home(), "checkpoints.jsonl");
    let stdout = "";
    child = spawn(process.execPath, [BIN, "audit", "checkpoints", "--follow", "-o", "json"], { env: { PATH: process.env.PATH, ...env({ SCAIVAULT_FOLLOW_INTERVAL: "1" }) } as NodeJS.ProcessEnv });
    child.stdout!.on("data", (d) => (stdout += d));
    for (;;) {
      const lines = stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Checkpoint);
      if (listed.every((c) => lines.some((l) => l.chain === c.chain && l.entries === c.entries && l.head_hash === c.head_hash))) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    child.kill("SIGTERM");
    await exited(child);
    writeFileSync(kept, stdout);

    const clean = await cli(["audit", "checkpoints", "--check", kept, "-o", "json"], env());
    expect({ code: clean.code, stderr: clean.stderr }).toEqual({ code: 0, stderr: "" });
    expect(JSON.parse(clean.stdout)).toMatchObject({ ok: true, kept: listed.length, missing: [], not_signed_by_vault_key: [] });

    // Someone with the database rolls the chain back three entries and deletes the checkpoints past it.
    const newest = Math.max(...ours.map((c) => c.entries));
    const keep = newest - 3;
    const row = await t.vault.db.get<{ hash: string }>("SELECT hash FROM audit_log WHERE chain_id = ? AND seq = ?", [CHAIN, keep]);
    await t.vault.db.run("DELETE FROM audit_log WHERE chain_id = ? AND seq > ?", [CHAIN, keep]);
    await t.vault.db.run("UPDATE audit_chain_heads SET seq = ?, hash = ? WHERE chain_id = ?", [keep, row!.hash, CHAIN]);
    await t.vault.db.run("DELETE FROM audit_checkpoints WHERE chain_id = ? AND entries > ?", [CHAIN, keep]);
    // The node alone cannot tell …
    const verify = await cli(["audit", "verify"], env());
    expect({ code: verify.code, stdout: verify.stdout }).toMatchObject({ code: 0, stdout: expect.stringMatching(/^ok:/) });
    // … the kept copy can, and names what is gone.
    const found = await cli(["audit", "checkpoints", "--check", kept, "-o", "json"], env());
    expect(found.code).toBe(1);
    const report = JSON.parse(found.stdout) as { ok: boolean; missing: Checkpoint[]; not_signed_by_vault_key: Checkpoint[] };
    const gone = ours.filter((c) => c.entries > keep).map((c) => [c.chain, c.entries, c.head_hash]);
    expect(gone.length).toBeGreaterThan(0);
    expect({ ok: report.ok, unsigned: report.not_signed_by_vault_key }).toEqual({ ok: false, unsigned: [] });
    expect(report.missing.map((c) => [c.chain, c.entries, c.head_hash])).toEqual(gone);
    const table = await cli(["audit", "checkpoints", "--check", kept], env());
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/^TAMPERED: \d+ kept checkpoint/);

    // A kept copy edited after the fact proves nothing: its lines no longer check against the key.
    const edited = join(home(), "edited.jsonl");
    const lines = readFileSync(kept, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Checkpoint & { timestamp: string });
    const early = lines.find((c) => c.chain === CHAIN && c.entries <= keep)!;
    writeFileSync(edited, `${JSON.stringify({ ...early, entries: early.entries + 100 })}\n`);
    const forged = await cli(["audit", "checkpoints", "--check", edited, "-o", "json"], env());
    expect(forged.code).toBe(1);
    expect(JSON.parse(forged.stdout)).toMatchObject({ ok: false, missing: [], not_signed_by_vault_key: [{ chain: CHAIN, entries: early.entries + 100 }] });
    // A file that is not a kept copy is a usage error, not a verdict.
    writeFileSync(edited, "not json\n");
    expect((await cli(["audit", "checkpoints", "--check", edited], env())).code).toBe(5);
  });
});
