#!/usr/bin/env node
import { buildVault } from "./app.js";
import { ConfigError, loadConfig } from "./config/config.js";
import { StorageError } from "./storage/contract.js";
import { writeBootstrapTokenFile } from "./tenancy/bootstrap-token-file.js";

async function main(): Promise<void> {
  // Everything the server creates (database, WAL, root key, exports, logs it is pointed at) is
  // owner-only, whatever the umask it was started with.
  process.umask(0o077);
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`scaivault: configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const vault = await buildVault(config);
  const address = await vault.app.listen({ host: config.bindHost, port: config.bindPort });
  if (vault.rootKeyFileCreated) {
    process.stderr.write(`\nCreated the local root key at ${vault.rootKeyFileCreated} (mode 0600). Back it up: without it no secret can be decrypted.\n`);
  }
  if (vault.generatedAdminToken) {
    // SPEC §2: the token goes to a 0600 file and only its path is printed, unless printing was asked for.
    const file = writeBootstrapTokenFile(config.bootstrap.tokenFile, vault.generatedAdminToken);
    const lines = config.bootstrap.printToken
      ? [" ScaiVault bootstrap admin token (shown once, store it safely):", "", `   ${vault.generatedAdminToken}`, "", ` export ADMIN_TOKEN=${vault.generatedAdminToken}`]
      : [` ScaiVault bootstrap admin token written to ${file} (mode 0600).`, "", ` export ADMIN_TOKEN=$(cat ${file})`];
    process.stderr.write(["", "================================================================", ...lines, "================================================================", ""].join("\n") + "\n");
  }
  process.stderr.write(`ScaiVault listening on ${address} (storage: ${vault.db.dialect})\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    vault.app.log.info({ signal }, "shutting down");
    vault.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((error: Error) => {
  // Problems found while starting (the root key file, the database) still name their variable.
  if (error instanceof ConfigError) process.stderr.write(`scaivault: configuration error: ${error.message}\n`);
  else if (error instanceof StorageError) process.stderr.write(`scaivault: failed to start: DATABASE_URL: ${error.message}\n`);
  else process.stderr.write(`scaivault: failed to start: ${error.message}\n`);
  process.exit(1);
});
