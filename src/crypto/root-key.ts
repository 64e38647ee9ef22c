import { readFileSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { randomBytes } from "node:crypto";
import { ConfigError } from "../config/config.js";
import { keyFingerprint, open, seal } from "./aead.js";

/** The top of the key hierarchy. `local` keeps it in memory; cloud KMS providers come later. */
export interface RootKeyProvider {
  readonly keyId: string;
  wrap(plaintext: Buffer, aad: string): Promise<Buffer>;
  unwrap(wrapped: Buffer, aad: string): Promise<Buffer>;
}

export class LocalRootKey implements RootKeyProvider {
  readonly keyId: string;
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error("the local root key must be 32 bytes");
    this.keyId = `local:${keyFingerprint(key)}`;
  }
  async wrap(plaintext: Buffer, aad: string): Promise<Buffer> {
    return seal(this.key, plaintext, aad);
  }
  async unwrap(wrapped: Buffer, aad: string): Promise<Buffer> {
    return open(this.key, wrapped, aad);
  }
}

export interface LocalKeySource {
  key: Buffer;
  createdFile: string | null;
}

/**
 * KMS_LOCAL_KEY wins; otherwise the key file is read, or created with mode 0600 on first start.
 * `wx` makes creation fail rather than overwrite a key another process wrote meanwhile.
 */
export function loadLocalRootKey(configured: Buffer | null, file: string, retried = false): LocalKeySource {
  if (configured) return { key: configured, createdFile: null };
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new ConfigError(VARIABLE, `${file} is not a file`);
    if ((stat.mode & 0o077) !== 0) {
      throw new ConfigError(VARIABLE, `the root key file ${file} is readable by group or others; chmod 600 it`);
    }
    return { key: decodeKeyFile(readFileSync(file, "utf8"), file), createdFile: null };
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw fileError(file, error);
  }
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const key = randomBytes(32);
    writeFileSync(file, `${key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
    return { key, createdFile: file };
  } catch (error) {
    // Another process created it between our read and our write: use theirs.
    if ((error as NodeJS.ErrnoException).code === "EEXIST" && !retried) return loadLocalRootKey(configured, file, true);
    throw fileError(file, error);
  }
}

const VARIABLE = "KMS_LOCAL_KEY_FILE";

function fileError(file: string, error: unknown): ConfigError {
  return new ConfigError(VARIABLE, `cannot read or create the root key file ${file} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
}

function decodeKeyFile(text: string, file: string): Buffer {
  const trimmed = text.trim();
  const key = Buffer.from(trimmed, "base64");
  if (key.length !== 32 || key.toString("base64") !== trimmed) {
    throw new ConfigError(VARIABLE, `the root key file ${file} does not hold 32 base64-encoded bytes`);
  }
  return key;
}
