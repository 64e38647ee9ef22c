/**
 * `scaivault-admin backup` / `restore` for SQLite (SPEC §11, admin): an online, consistent copy
 * taken with `VACUUM INTO` (one read transaction: it sees the WAL and never blocks the server's
 * writer), integrity-checked, mode 0600; the root key only on request, into a separate file.
 */
import Database from "better-sqlite3";
import { chmodSync, closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { keyFingerprint } from "../../crypto/aead.js";

/** A refusal or failure with the exit code it ends the command with (SPEC §10's codes). */
export class AdminError extends Error {
  constructor(readonly exitCode: number, message: string) {
    super(message);
    this.name = "AdminError";
  }
}

export const EXIT = { general: 1, notFound: 4, validation: 5 } as const;

/** The key file format the server reads (KMS_LOCAL_KEY_FILE): 32 bytes, base64, one line. */
export function encodeKeyFile(key: Buffer): string {
  return `${key.toString("base64")}\n`;
}

export function decodeKeyFile(text: string, file: string): Buffer {
  const trimmed = text.trim();
  const key = Buffer.from(trimmed, "base64");
  if (key.length !== 32 || key.toString("base64") !== trimmed) throw new AdminError(EXIT.validation, `${file} does not hold a root key (32 bytes, base64)`);
  return key;
}

export const keyIdOf = (key: Buffer) => `local:${keyFingerprint(key)}`;

/** The root key ids the database's partner and system keys are wrapped with (none in an empty vault). */
function rootKeyIds(db: Database.Database): string[] {
  const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'crypto_keys'").get();
  if (!hasTable) return [];
  return (db.prepare("SELECT DISTINCT wrapping_key_id AS id FROM crypto_keys WHERE kind <> 'tenant' ORDER BY id").all() as { id: string }[]).map((r) => r.id);
}

function integrityCheck(db: Database.Database, what: string): void {
  const rows = db.pragma("integrity_check") as { integrity_check: string }[];
  const problems = rows.map((r) => r.integrity_check).filter((r) => r !== "ok");
  if (problems.length > 0) throw new AdminError(EXIT.general, `${what} fails the integrity check: ${problems.slice(0, 3).join("; ")}`);
}

function openChecked(file: string, what: string, options: Database.Options = {}): Database.Database {
  try {
    return new Database(file, { fileMustExist: true, ...options });
  } catch (error) {
    throw new AdminError(EXIT.general, `cannot open ${what} ${file} as a SQLite database (${(error as Error).message})`);
  }
}

/** Writes `text` to `file` with mode 0600 (through a temporary file and a rename) and syncs it. */
export function writePrivateFile(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.tmp-${process.pid}`);
  writeFileSync(tmp, text, { mode: 0o600, flag: "wx" });
  chmodSync(tmp, 0o600);
  syncFile(tmp);
  renameSync(tmp, file);
  syncFile(dirname(file));
}

function syncFile(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface BackupResult {
  file: string;
  bytes: number;
  keyFile: string | null;
  rootKeyIds: string[];
}

/**
 * Copies the live database at `source` to `dest`. `key` (with `includeKeys`) goes to `dest.keys`;
 * it must be the key the database is wrapped with, so that the pair restores.
 */
export function backupSqlite(source: string, dest: string, options: { force: boolean; key: Buffer | null; includeKeys: boolean }): BackupResult {
  if (!existsSync(source)) throw new AdminError(EXIT.notFound, `no database at ${source} (DATABASE_URL)`);
  const keyFile = options.includeKeys ? `${dest}.keys` : null;
  for (const target of [dest, keyFile]) {
    if (target && existsSync(target) && !options.force) throw new AdminError(EXIT.validation, `${target} exists; pass --force to replace it`);
  }
  if (!existsSync(dirname(dest))) throw new AdminError(EXIT.notFound, `the directory ${dirname(dest)} does not exist`);
  const db = openChecked(source, "the database", { timeout: 5000 });
  const tmp = join(dirname(dest), `.${basename(dest)}.tmp-${process.pid}`);
  let ids: string[];
  try {
    ids = rootKeyIds(db);
    if (options.includeKeys) {
      if (!options.key) throw new AdminError(EXIT.general, "--include-keys: no root key is configured (KMS_LOCAL_KEY or the file KMS_LOCAL_KEY_FILE names)");
      const id = keyIdOf(options.key);
      if (ids.some((other) => other !== id)) throw new AdminError(EXIT.general, `--include-keys: the configured root key (${id}) is not the one this database is wrapped with (${ids.join(", ")})`);
    }
    rmSync(tmp, { force: true });
    // One read transaction over the database and its WAL: a consistent snapshot, the writer goes on.
    db.prepare("VACUUM INTO ?").run(tmp);
  } catch (error) {
    rmSync(tmp, { force: true });
    if (error instanceof AdminError) throw error;
    throw new AdminError(EXIT.general, `backup failed: ${(error as Error).message}`);
  } finally {
    db.close();
  }
  try {
    chmodSync(tmp, 0o600);
    const copy = openChecked(tmp, "the backup");
    try {
      integrityCheck(copy, "the backup");
    } finally {
      copy.close();
    }
    syncFile(tmp);
    renameSync(tmp, dest);
    syncFile(dirname(dest));
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  if (keyFile && options.key) {
    rmSync(keyFile, { force: true });
    writePrivateFile(keyFile, encodeKeyFile(options.key));
  }
  return { file: dest, bytes: statSync(dest).size, keyFile, rootKeyIds: ids };
}

/**
 * True when another connection (the server) has the database open: leaving WAL mode needs the
 * only connection. A database that is not in use is left in rollback mode, as restore replaces it.
 */
function inUse(file: string): boolean {
  let db: Database.Database;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 0 });
  } catch {
    return true;
  }
  try {
    const mode = db.pragma("journal_mode = DELETE", { simple: true });
    return String(mode).toLowerCase() === "wal";
  } catch {
    return true;
  } finally {
    db.close();
  }
}

export interface RestoreResult {
  file: string;
  keyFile: string | null;
  rootKeyIds: string[];
}

/**
 * Replaces the (stopped) server's database at `target` with the backup `source`. The root key the
 * backup needs must be given (`keysFile`, written to `keyTarget`) or already configured (`configuredKey`).
 */
export function restoreSqlite(source: string, target: string, options: { force: boolean; keysFile: string | null; keyTarget: string; configuredKey: Buffer | null; envKey: boolean }): RestoreResult {
  if (!existsSync(source) || !statSync(source).isFile()) throw new AdminError(EXIT.notFound, `no backup file at ${source}`);
  const src = openChecked(source, "the backup", { readonly: true });
  let ids: string[];
  try {
    integrityCheck(src, `the backup ${source}`);
    if (!src.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get()) {
      throw new AdminError(EXIT.general, `${source} is not a ScaiVault database (no schema_migrations table)`);
    }
    ids = rootKeyIds(src);
  } catch (error) {
    if (error instanceof AdminError) throw error;
    throw new AdminError(EXIT.general, `${source} cannot be read as a SQLite database (${(error as Error).message})`);
  } finally {
    src.close();
  }
  // The key: the one given with --keys, else the one the server would use.
  let givenKey: Buffer | null = null;
  if (options.keysFile) {
    if (!existsSync(options.keysFile)) throw new AdminError(EXIT.notFound, `no key file at ${options.keysFile} (--keys)`);
    givenKey = decodeKeyFile(readFileSync(options.keysFile, "utf8"), options.keysFile);
  }
  const key = givenKey ?? options.configuredKey;
  if (ids.length > 0) {
    if (!key) {
      throw new AdminError(EXIT.general, `the backup is encrypted under the root key ${ids.join(", ")} and no root key is configured (KMS_LOCAL_KEY, or a key file at ${options.keyTarget}): pass --keys FILE (the .keys file of backup --include-keys)`);
    }
    const id = keyIdOf(key);
    if (ids.some((other) => other !== id)) {
      throw new AdminError(EXIT.general, `the backup is encrypted under the root key ${ids.join(", ")}, but ${givenKey ? `--keys ${options.keysFile} holds` : "the configured root key is"} ${id}: pass --keys with the backup's key file`);
    }
  }
  if (givenKey && options.envKey && options.configuredKey && !options.configuredKey.equals(givenKey)) {
    throw new AdminError(EXIT.general, "KMS_LOCAL_KEY is set to another key than --keys holds, and the server uses KMS_LOCAL_KEY: unset it or set it to the backup's key");
  }
  // The target: refused while in use, and when it exists unless --force.
  const sidecars = [`${target}-wal`, `${target}-shm`, `${target}-journal`];
  const exists = existsSync(target);
  if ((exists || sidecars.some(existsSync)) && !options.force) throw new AdminError(EXIT.validation, `${target} exists; stop the server and pass --force to replace it`);
  if (exists && inUse(target)) throw new AdminError(EXIT.general, `${target} is in use (is the server running?): stop it first`);
  let writeKey = false;
  if (givenKey && !options.envKey) {
    if (existsSync(options.keyTarget)) {
      const current = readFileSync(options.keyTarget, "utf8").trim();
      if (current !== givenKey.toString("base64")) {
        if (!options.force) throw new AdminError(EXIT.validation, `${options.keyTarget} holds another root key; pass --force to replace it (keep a copy: it decrypts the current database)`);
        writeKey = true;
      }
    } else writeKey = true;
  }
  mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(target), `.${basename(target)}.restore-${process.pid}`);
  try {
    rmSync(tmp, { force: true });
    copyFileSync(source, tmp);
    chmodSync(tmp, 0o600);
    syncFile(tmp);
    // A WAL left next to the old file would be replayed onto the restored one.
    for (const file of sidecars) rmSync(file, { force: true });
    renameSync(tmp, target);
    syncFile(dirname(target));
  } catch (error) {
    rmSync(tmp, { force: true });
    throw new AdminError(EXIT.general, `restore failed: ${(error as Error).message}`);
  }
  if (writeKey && givenKey) {
    mkdirSync(dirname(options.keyTarget), { recursive: true, mode: 0o700 });
    rmSync(options.keyTarget, { force: true });
    writePrivateFile(options.keyTarget, encodeKeyFile(givenKey));
  }
  return { file: target, keyFile: writeKey ? options.keyTarget : null, rootKeyIds: ids };
}
