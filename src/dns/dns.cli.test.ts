import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { cli, useCliHome } from "../cli/cli-harness.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { TestDnsServer } from "./testing/dns-server.js";

describeEachBackend("scaivault CLI: dns providers", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_DNS_TIMEOUT: "2s" } });
  const { home, env } = useCliHome(vault);
  const secret = randomBytes(32).toString("base64");
  const server = new TestDnsServer({ zones: ["cli.test"], keys: [{ name: "cli-key", algorithm: "hmac-sha512", secret }] });
  beforeAll(async () => {
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it("creates a verified provider with the secret from a file, lists, tests and deletes it; the secret is never printed", async () => {
    const file = join(home(), "tsig.key");
    writeFileSync(file, `${secret}\n`, { mode: 0o600 });
    const create = await cli(["dns", "providers", "create", "--name", "cli", "--server", server.address, "--zones", "cli.test,*.cli.test", "--tsig-key-name", "cli-key", "--tsig-secret-file", file, "--tsig-algorithm", "hmac-sha512", "--verify", "--json"], env());
    expect(create.stderr).toBe("");
    expect(create.code).toBe(0);
    const provider = JSON.parse(create.stdout);
    expect(provider).toMatchObject({ name: "cli", provider_type: "rfc2136", managed_zones: ["cli.test", "*.cli.test"], config: { tsig_algorithm: "hmac-sha512" } });
    const list = await cli(["dns", "providers", "list"], env());
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(provider.id);
    const test = await cli(["dns", "providers", "test", provider.id], env());
    expect([test.code, test.stdout]).toEqual([0, "cli.test: ok\n"]);
    expect((await cli(["dns", "providers", "delete", provider.id], env())).code).toBe(0);
    const gone = await cli(["dns", "providers", "get", provider.id], env());
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain("dns_provider_not_found");
    for (const run of [create, list, test, gone]) expect(run.stdout + run.stderr).not.toContain(secret);
  });
});
