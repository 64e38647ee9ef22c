import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";

// The image cannot be built here (no base-image pulls): the Dockerfile is linted and the compose
// file checked for what it must hold. Both are described in the README as untested here.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

describe("container image files", () => {
  it("the Dockerfile passes dockerfilelint and is multi-stage, non-root, with a healthcheck and a data volume", async () => {
    const { stdout } = await promisify(execFile)(join(ROOT, "node_modules/.bin/dockerfilelint"), ["-o", "json", join(ROOT, "Dockerfile")], { timeout: 120_000 });
    const report = JSON.parse(stdout) as { files: { issues_count: number; issues: unknown[] }[] };
    expect(report.files[0].issues).toEqual([]);
    const text = readFileSync(join(ROOT, "Dockerfile"), "utf8");
    expect(text.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/^USER node$/m);
    expect(text).toMatch(/^HEALTHCHECK .*CMD node dist\/system\/healthcheck\.js$/m);
    expect(text).toMatch(/^VOLUME \["\/data"\]$/m);
  }, 180_000);

  it("compose runs the vault on PostgreSQL with persistent volumes", () => {
    const compose = parse(readFileSync(join(ROOT, "compose.yaml"), "utf8"));
    expect(compose.services.db.image).toMatch(/^postgres:/);
    expect(compose.services.vault.environment.DATABASE_URL).toMatch(/^postgres:\/\/.*@db:5432\//);
    expect(compose.services.vault.depends_on.db.condition).toBe("service_healthy");
    expect(Object.keys(compose.volumes)).toEqual(["pgdata", "vaultdata"]);
  });
});
