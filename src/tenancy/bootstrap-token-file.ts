import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, resolve } from "node:path";

/**
 * SPEC §2: a generated bootstrap token goes to `<data dir>/bootstrap-token`, readable by the
 * vault's user only (0600, directory 0700), and only its path is printed, so the token never lands
 * in a terminal scrollback or a log collector. Written to a temporary file first and renamed, so a
 * crash leaves the old file or the new one, never half a token. Answers the absolute path.
 */
export function writeBootstrapTokenFile(file: string, token: string): string {
  const target = resolve(file);
  mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  const temporary = `${target}.${process.pid}.tmp`;
  rmSync(temporary, { force: true });
  const fd = openSync(temporary, "wx", 0o600);
  try {
    writeSync(fd, `${token}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, target);
  chmodSync(target, 0o600);
  return target;
}
