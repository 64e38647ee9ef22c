import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { OpenSsl } from "../pki/testing.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { cli, useCliHome } from "./cli-harness.js";

describeEachBackend("scaivault CLI: pki ca create, issue, revoke", (backend) => {
  const vault = useVault(backend);
  const { home, env } = useCliHome(vault);
  const ssl = new OpenSsl();
  const json = async (args: string[]) => {
    const run = await cli([...args, "--json"], env());
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout);
  };

  it("creates a root and an intermediate, issues to files openssl verifies, and revokes", async () => {
    const root = await json(["pki", "ca", "create", "--name", "cli-root", "--common-name", "CLI Root", "--key-type", "ec"]);
    expect(root).toMatchObject({ ca_type: "root", key_type: "ec", is_active: true });
    const int = await json(["pki", "ca", "create", "--name", "cli-int", "--common-name", "CLI Int", "--parent", root.id, "--key-type", "ec"]);
    expect(int).toMatchObject({ ca_type: "intermediate", parent_ca_id: root.id });
    const listed = await cli(["pki", "ca", "list"], env());
    expect(listed.stdout).toMatch(/cli-int\s+intermediate/);
    expect((await vault().admin.post("/v1/pki/roles", { name: "cli", ca_id: int.id, allowed_domains: ["cli.internal"], allow_subdomains: true, key_type: "ec" })).status).toBe(201);
    const certFile = join(home(), "leaf.pem");
    const keyFile = join(home(), "leaf.key");
    const issued = await json(["pki", "issue", "cli", "--common-name", "a.cli.internal", "--alt-names", "b.cli.internal", "--ttl", "1h", "--cert-out", certFile, "--key-out", keyFile]);
    expect(issued.private_key).toBeUndefined();
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const rootPem = (await vault().admin.get(`/v1/pki/ca/${root.id}/certificate`)).body.certificate_pem;
    // The cert file holds the leaf then its chain: openssl verifies the leaf with the chain as untrusted.
    const verified = (await ssl.run(["verify", "-CAfile", ssl.file("cli-root.pem", rootPem), "-untrusted", certFile, certFile]));
    expect(verified.status, verified.out).toBe(0);
    expect((await ssl.ok(["x509", "-noout", "-pubkey", "-in", certFile]))).toBe((await ssl.ok(["pkey", "-pubout", "-in", keyFile])));
    expect(readFileSync(keyFile, "utf8")).toMatch(/BEGIN PRIVATE KEY/);
    const revoked = await json(["pki", "revoke", issued.serial_number, "--reason", "superseded"]);
    expect(revoked).toMatchObject({ id: issued.id, revocation_reason: "superseded" });
    const bad = await cli(["pki", "ca", "get", "ca_missing"], env());
    expect([bad.code, bad.stderr]).toEqual([4, expect.stringContaining("ca_not_found")]);
    // Each CLI run is a new Node process: seconds apiece on a loaded machine.
  }, 240_000);
});
