/**
 * The README works on first contact: every fenced bash, python and typescript snippet runs
 * verbatim, in order, in one shell environment, against a server started by the quick start
 * (`npm start` in a fresh directory that holds this checkout's built package). A snippet that
 * cannot run here is marked by an HTML comment on the line before its fence:
 *   <!-- readme-test: needs Docker -->  /  <!-- readme-test: needs PyPI -->   not run
 *   <!-- readme-test: starts the server … -->   the quick start: `npm ci` (done before the tests) && `npm start`
 *   <!-- readme-test: server stopped -->         the server is stopped before it runs (restore)
 * The only change made to a snippet: when port 8443 is taken, the base URL's port (and the
 * server's BIND_ADDRESS to match).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { freePort, portFree } from "../testing/ports.js";
import { exited, ROOT, waitUntilUp } from "../testing/processes.js";

vi.setConfig({ testTimeout: 300_000 });

interface Snippet {
  line: number;
  lang: "bash" | "python" | "typescript";
  code: string;
  marker: string | null;
}

const LANGS: Record<string, Snippet["lang"]> = { bash: "bash", sh: "bash", shell: "bash", python: "python", py: "python", typescript: "typescript", ts: "typescript" };

export function readmeSnippets(text: string): Snippet[] {
  const lines = text.split("\n");
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w+)\s*$/.exec(lines[i]);
    if (!open) {
      if (/^\s*```/.test(lines[i])) {
        // A fence without a language: skip to its end.
        for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]); i++);
      }
      continue;
    }
    const indent = open[1].length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]); j++) body.push(lines[j].slice(Math.min(indent, lines[j].length - lines[j].trimStart().length)));
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === "") k--;
    const marker = k >= 0 ? (/^\s*<!--\s*readme-test:\s*(.*?)\s*-->\s*$/.exec(lines[k])?.[1] ?? null) : null;
    const lang = LANGS[open[2].toLowerCase()];
    if (lang) snippets.push({ line: i + 1, lang, code: body.join("\n"), marker });
    i = j;
  }
  return snippets;
}

describe("README snippets", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const snippets = readmeSnippets(readme);
  const dir = mkdtempSync(join(tmpdir(), "scaivault-readme-"));
  let server: ChildProcess | null = null;
  let serverOutput = "";
  afterAll(async () => {
    await stopServer();
    rmSync(dir, { recursive: true, force: true });
  });

  async function stopServer(): Promise<void> {
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    // `npm start` runs node as its child: signal the whole group this test created.
    process.kill(-server.pid!, "SIGTERM");
    await exited(server);
    server = null;
  }

  it("marks only what cannot run here, with the known markers", () => {
    expect(snippets.length).toBeGreaterThanOrEqual(6);
    const markers = snippets.map((s) => s.marker).filter((m): m is string => m !== null);
    for (const m of markers) expect(m).toMatch(/^(needs Docker|needs PyPI|starts the server\b.*|server stopped)$/);
    expect(markers.filter((m) => m.startsWith("starts the server"))).toHaveLength(1);
    expect(new Set(snippets.map((s) => s.lang))).toEqual(new Set(["bash", "python", "typescript"]));
  });

  it("runs every unmarked snippet verbatim against a freshly started server", async () => {
    for (const target of ["package.json", "dist", "node_modules", "sdks"]) symlinkSync(join(ROOT, target), join(dir, target));
    mkdirSync(join(dir, "home"));
    const port = (await portFree(8443)) ? 8443 : await freePort();
    const adapt = (code: string) => (port === 8443 ? code : code.replaceAll("127.0.0.1:8443", `127.0.0.1:${port}`));
    const baseEnv: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: join(dir, "home"), ...(port === 8443 ? {} : { BIND_ADDRESS: `127.0.0.1:${port}` }) };
    const envFile = join(dir, ".snippet-env.sh");
    writeFileSync(envFile, "");

    const startServer = async (command: string) => {
      serverOutput = "";
      server = spawn("bash", ["-c", command], { cwd: dir, env: baseEnv, detached: true, stdio: ["ignore", "pipe", "pipe"] });
      server.stdout!.on("data", (d) => (serverOutput += d));
      server.stderr!.on("data", (d) => (serverOutput += d));
      await waitUntilUp(`http://127.0.0.1:${port}/v1/health`, { child: server, output: () => serverOutput, timeoutMs: 60_000 });
    };
    const runShell = (script: string) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn("bash", ["-c", `set -e -o pipefail\nsource ${envFile}\n${script}\nexport -p > ${envFile}`], { cwd: dir, env: baseEnv });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr }));
      });

    const ran: number[] = [];
    for (const [index, snippet] of snippets.entries()) {
      const where = `README.md line ${snippet.line} (${snippet.lang})`;
      if (snippet.marker === "needs Docker" || snippet.marker === "needs PyPI") continue;
      if (snippet.marker?.startsWith("starts the server")) {
        // `npm ci` has run before the tests (CI, and every checkout that runs them); the rest starts the vault.
        expect(snippet.code.trim(), where).toBe("npm ci && npm start");
        await startServer("npm start");
        ran.push(snippet.line);
        continue;
      }
      if (snippet.marker === "server stopped") await stopServer();
      else if (!server) throw new Error(`${where} needs the server, which no earlier snippet started`);
      let script = adapt(snippet.code);
      if (snippet.lang === "python") {
        const file = join(dir, `snippet-${index}.py`);
        writeFileSync(file, script + "\n");
        script = `PYTHONPATH=${join(ROOT, "sdks/python")} python3 ${file}`;
      } else if (snippet.lang === "typescript") {
        const file = join(dir, `snippet-${index}.mts`);
        writeFileSync(file, script + "\n");
        script = `${join(ROOT, "node_modules/.bin/tsx")} ${file}`;
      }
      const result = await runShell(script);
      const detail = `${where}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}\n--- server\n${serverOutput}`;
      expect(result.code, detail).toBe(0);
      // curl exits 0 on an HTTP error: an error envelope in the output is a failure too.
      expect(result.stdout, detail).not.toMatch(/"error"\s*:\s*\{/);
      ran.push(snippet.line);
    }
    const expected = snippets.filter((s) => s.marker !== "needs Docker" && s.marker !== "needs PyPI").map((s) => s.line);
    expect(ran).toEqual(expected);
    expect(existsSync(join(dir, "data", "bootstrap-token"))).toBe(true);

    // After the restore snippet: the restored vault starts and still holds the quick start's secret.
    await stopServer();
    await startServer("npm start");
    const token = readFileSync(join(dir, "data", "bootstrap-token"), "utf8").trim();
    const read = await fetch(`http://127.0.0.1:${port}/v1/secrets/integrations/salesforce/oauth`, { headers: { authorization: `Bearer ${token}` } });
    expect(read.status).toBe(200);
    expect(((await read.json()) as { data: Record<string, string> }).data.client_id).toBe("3MVG9...");
  });
});
