#!/usr/bin/env node
/**
 * `scaivault-admin`: operations on the server's host, with the server's configuration (the same
 * environment and SCAIVAULT_CONFIG file). SPEC §11: `backup DEST` and `restore SRC`.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, type VaultConfig } from "../../config/config.js";
import { AdminError, EXIT, backupSqlite, decodeKeyFile, keyIdOf, restoreSqlite } from "./sqlite-backup.js";

const HELP = `scaivault-admin: operations on the vault's host, with the server's configuration
(DATABASE_URL, KMS_LOCAL_KEY / KMS_LOCAL_KEY_FILE, SCAIVAULT_CONFIG).

Usage:
  scaivault-admin backup DEST [--include-keys] [--force] [--json]
  scaivault-admin restore SRC [--keys FILE] [--force] [--json]

backup   An online, consistent copy of the SQLite database (the server may keep running and
         writing), integrity-checked, mode 0600. With --include-keys the root key is written to
         DEST.keys (mode 0600): the backup and that file together are the whole vault, so keep
         them apart. PostgreSQL: use pg_dump (docs/operations.md).
restore  Replaces the stopped server's SQLite database with SRC after an integrity check.
         --keys FILE installs the root key saved by backup --include-keys at KMS_LOCAL_KEY_FILE;
         without it the configured root key must be the backup's. Refused while the database is
         in use; an existing database (or key file) is replaced only with --force.

Exit codes: 0 ok, 1 failed or refused, 4 not found, 5 usage.

Examples:
  scaivault-admin backup /backups/vault-$(date +%F).db
  scaivault-admin backup /backups/vault.db --include-keys
  scaivault-admin restore /backups/vault.db --keys /backups/vault.db.keys
`;

const COMMANDS = ["backup", "restore", "help"];

function sqliteFile(config: VaultConfig, command: string): string {
  if (config.databaseUrl.startsWith("sqlite:")) return config.databaseUrl.slice("sqlite:".length);
  const tool = command === "backup" ? "pg_dump --format=custom --file DEST \"$DATABASE_URL\"" : "pg_restore --no-owner --dbname \"$DATABASE_URL\" SRC";
  throw new AdminError(EXIT.general, `${command} works on SQLite only; this vault uses PostgreSQL: use ${tool} and keep the root key (KMS_LOCAL_KEY_FILE) separately (docs/operations.md)`);
}

/** The root key the server would use, without creating one (the server creates it; admin never does). */
function configuredKey(config: VaultConfig): Buffer | null {
  if (config.kms.localKey) return config.kms.localKey;
  const file = config.kms.localKeyFile;
  if (!existsSync(file)) return null;
  if ((statSync(file).mode & 0o077) !== 0) throw new AdminError(EXIT.general, `the root key file ${file} is readable by group or others; chmod 600 it`);
  return decodeKeyFile(readFileSync(file, "utf8"), file);
}

async function main(argv: string[]): Promise<number> {
  // Everything written here (backups, key files) is owner-only, whatever the umask.
  process.umask(0o077);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        "include-keys": { type: "boolean" },
        keys: { type: "string" },
        force: { type: "boolean" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    process.stderr.write(`scaivault-admin: ${(error as Error).message}\nRun scaivault-admin --help.\n`);
    return EXIT.validation;
  }
  const { values, positionals } = parsed;
  const [command, target, ...extra] = positionals;
  if (values.help || command === "help" || command === undefined) {
    process.stdout.write(HELP);
    return command === undefined && !values.help ? EXIT.validation : 0;
  }
  const usage = (message: string) => {
    process.stderr.write(`scaivault-admin: ${message}\nRun scaivault-admin --help.\n`);
    return EXIT.validation;
  };
  if (!COMMANDS.includes(command)) return usage(`unknown command "${command}" (backup, restore)`);
  if (!target) return usage(`${command} needs a file: scaivault-admin ${command} ${command === "backup" ? "DEST" : "SRC"}`);
  if (extra.length > 0) return usage(`unexpected argument "${extra[0]}"`);
  if (command === "backup" && values.keys !== undefined) return usage("--keys belongs to restore (backup takes --include-keys)");
  if (command === "restore" && values["include-keys"]) return usage("--include-keys belongs to backup (restore takes --keys FILE)");

  let config: VaultConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`scaivault-admin: configuration error: ${error.message}\n`);
      return EXIT.general;
    }
    throw error;
  }
  const report = (human: string, data: Record<string, unknown>) => process.stdout.write(values.json ? `${JSON.stringify(data)}\n` : `${human}\n`);
  if (command === "backup") {
    const file = sqliteFile(config, "backup");
    const includeKeys = values["include-keys"] === true;
    const result = backupSqlite(file, target, { force: values.force === true, includeKeys, key: includeKeys ? configuredKey(config) : null });
    report(
      [
        `Backed up ${file} to ${result.file} (${result.bytes} bytes, integrity ok, mode 0600).`,
        result.keyFile
          ? `Root key (${result.rootKeyIds.join(", ") || keyIdOf(configuredKey(config)!)}) written to ${result.keyFile} (mode 0600). Store it apart from the backup: together they are the whole vault.`
          : `Root key not included${result.rootKeyIds.length ? ` (${result.rootKeyIds.join(", ")})` : ""}: keep your copy of it, or run with --include-keys. Without it this backup cannot be decrypted.`,
      ].join("\n"),
      { ok: true, command, file: result.file, bytes: result.bytes, key_file: result.keyFile, root_key_ids: result.rootKeyIds },
    );
    return 0;
  }
  const file = sqliteFile(config, "restore");
  const envKey = config.kms.localKey !== null;
  const result = restoreSqlite(target, file, {
    force: values.force === true,
    keysFile: values.keys ?? null,
    keyTarget: config.kms.localKeyFile,
    configuredKey: configuredKey(config),
    envKey,
  });
  report(
    [`Restored ${target} to ${result.file} (integrity ok, mode 0600).`, ...(result.keyFile ? [`Root key installed at ${result.keyFile} (mode 0600).`] : []), "Start the server to use it."].join("\n"),
    { ok: true, command, file: result.file, key_file: result.keyFile, root_key_ids: result.rootKeyIds },
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    if (error instanceof AdminError) {
      process.stderr.write(`scaivault-admin: ${error.message}\n`);
      process.exit(error.exitCode);
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`scaivault-admin: configuration error: ${error.message}\n`);
      process.exit(EXIT.general);
    }
    process.stderr.write(`scaivault-admin: ${error.message}\n`);
    process.exit(EXIT.general);
  },
);
