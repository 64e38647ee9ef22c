/** Test helper for backup/restore: every secret of a vault with every version's value, read through the API. */
import { spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ApiClient } from "./harness.js";

export type Snapshot = Map<string, { version: number; data: unknown }[]>;

export async function snapshot(client: ApiClient): Promise<Snapshot> {
  const result: Snapshot = new Map();
  let cursor: string | null = null;
  do {
    const page: { status: number; body: any } = await client.get(`/v1/secrets?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    if (page.status !== 200) throw new Error(`list: ${page.status} ${JSON.stringify(page.body)}`);
    for (const item of page.body.data as { path: string }[]) {
      const versions = await client.get(`/v1/secrets/${item.path}/versions`);
      if (versions.status !== 200) throw new Error(`versions of ${item.path}: ${versions.status}`);
      const list: { version: number; data: unknown }[] = [];
      for (const v of versions.body.versions as { version: number }[]) {
        const read = await client.get(`/v1/secrets/${item.path}?version=${v.version}`);
        if (read.status !== 200) throw new Error(`read ${item.path} v${v.version}: ${read.status} ${JSON.stringify(read.body)}`);
        list.push({ version: v.version, data: read.body.data });
      }
      result.set(item.path, list.sort((a, b) => a.version - b.version));
    }
    cursor = page.body.has_more ? page.body.cursor : null;
  } while (cursor);
  return result;
}

/** The built `scaivault-admin` (package.json "bin"), run as an operator would. */
export const ADMIN_BIN = resolve(dirname(fileURLToPath(import.meta.url)), "../../dist/cli/admin/main.js");

export function admin(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [ADMIN_BIN, ...args], { env: { PATH: process.env.PATH ?? "", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}
