import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend, scratchDatabase, type ScratchDatabase } from "../testing/backends.js";
import { ApiClient } from "../testing/harness.js";
import { freePort } from "../testing/ports.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const TSX = pathToFileURL(join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
const MAIN = join(ROOT, "src", "main.ts");

/** The seed's step 1, verbatim. */
const SEED_STEP_1 = `{
    "data": {
      "client_id": "3MVG9...",
      "client_secret": "REDACTED"
    },
    "secret_type": "json",
    "metadata": {
      "description": "Salesforce OAuth for all production integrations",
      "tags": ["salesforce", "oauth", "production"]
    },
    "options": {
      "max_versions": 10
    }
  }`;

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts the server as a user would, in `cwd`, with only the environment given (plus PATH/HOME). */
function startServer(cwd: string, env: Record<string, string>): Run {
  const child = spawn(process.execPath, ["--import", TSX, MAIN], {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? cwd, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  child.stdout!.on("data", (chunk) => (text += chunk.toString()));
  child.stderr!.on("data", (chunk) => (text += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, output: () => text, exited };
}

async function waitFor(run: Run, pattern: RegExp): Promise<void> {
  for (let i = 0; i < 600 && !pattern.test(run.output()); i++) {
    if (run.child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(run.output()).toMatch(pattern);
}

async function stop(run: Run): Promise<number | null> {
  run.child.kill("SIGTERM");
  return run.exited;
}

describeEachBackend("the server process", (backend) => {
  let cwd: string;
  let scratch: ScratchDatabase | null = null;
  let env: Record<string, string>;
  let baseUrl: string;
  let token: string;

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), "scaivault-main-"));
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    env = { BIND_ADDRESS: `127.0.0.1:${port}`, LOG_LEVEL: "warn" };
    if (backend === "postgres") {
      scratch = await scratchDatabase("postgres");
      env.DATABASE_URL = scratch.url;
    }
  });
  afterAll(async () => {
    await scratch?.drop();
    rmSync(cwd, { recursive: true, force: true });
  });

  it("first start: creates the root key 0600, writes the bootstrap token to data/bootstrap-token (0600) printing only its path, and the seed's step 1 works with it", async () => {
    const run = startServer(cwd, env);
    try {
      await waitFor(run, /listening on/);
      const banners = run.output().match(/bootstrap admin token/g) ?? [];
      expect(banners).toHaveLength(1);
      const file = join(cwd, "data", "bootstrap-token");
      expect(run.output()).toContain(`written to ${file} (mode 0600)`);
      expect(run.output()).toContain(`export ADMIN_TOKEN=$(cat ${file})`);
      token = readFileSync(file, "utf8").trim();
      expect(token).toMatch(/^skt_[A-Za-z0-9_-]{40,}$/);
      expect((statSync(file).mode & 0o777).toString(8)).toBe("600");
      // SPEC §2: the token itself is not printed.
      expect(run.output()).not.toContain(token);
      const whoami = await new ApiClient(baseUrl, token).get("/v1/auth/whoami");
      expect(whoami.body).toMatchObject({ identity_id: "system:bootstrap", identity_type: "system" });
      expect((statSync(join(cwd, "data", "root.key")).mode & 0o777).toString(8)).toBe("600");
      expect((statSync(join(cwd, "data")).mode & 0o777).toString(8)).toBe("700");
      if (backend === "sqlite") expect(existsSync(join(cwd, "data", "scaivault.db"))).toBe(true);

      const admin = new ApiClient(baseUrl, token);
      const put = await admin.request("PUT", "/v1/secrets/integrations/salesforce/oauth", { raw: SEED_STEP_1, headers: { "content-type": "application/json" } });
      expect(put.status, put.text).toBe(201);
      const get = await admin.get("/v1/secrets/integrations/salesforce/oauth");
      expect(get.status).toBe(200);
      expect(get.body.data).toEqual({ client_id: "3MVG9...", client_secret: "REDACTED" });
      expect((await admin.get("/v1/health")).body.status).toBe("healthy");
    } finally {
      expect(await stop(run)).toBe(0);
    }
  });

  it("second start: prints no token, keeps the root key, and the first token still reads the secret", async () => {
    const run = startServer(cwd, env);
    try {
      await waitFor(run, /listening on/);
      expect(run.output()).not.toMatch(/bootstrap admin token|ADMIN_TOKEN|Created the local root key/);
      expect(run.output()).not.toContain(token);
      const get = await new ApiClient(baseUrl, token).get("/v1/secrets/integrations/salesforce/oauth");
      expect(get.status).toBe(200);
      expect(get.body.data.client_secret).toBe("REDACTED");
    } finally {
      expect(await stop(run)).toBe(0);
    }
  });

  it("SCAIVAULT_PRINT_BOOTSTRAP_TOKEN=true prints the token itself (on a fresh database)", async () => {
    const fresh = mkdtempSync(join(tmpdir(), "scaivault-main-print-"));
    const db = backend === "postgres" ? await scratchDatabase("postgres") : null;
    const run = startServer(fresh, { ...env, ...(db ? { DATABASE_URL: db.url } : {}), SCAIVAULT_PRINT_BOOTSTRAP_TOKEN: "true" });
    try {
      await waitFor(run, /listening on/);
      const printed = /export ADMIN_TOKEN=(skt_[A-Za-z0-9_-]+)/.exec(run.output())?.[1];
      expect(printed).toBe(readFileSync(join(fresh, "data", "bootstrap-token"), "utf8").trim());
      expect((await new ApiClient(baseUrl, printed!).get("/v1/auth/whoami")).body.identity_id).toBe("system:bootstrap");
    } finally {
      expect(await stop(run)).toBe(0);
      await db?.drop();
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it("refuses to start on a bad setting, naming the variable, exit code 1", async () => {
    const run = startServer(cwd, { ...env, LOG_LEVEL: "loud" });
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/configuration error: LOG_LEVEL/);
  });
});
