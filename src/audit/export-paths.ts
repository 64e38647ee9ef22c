import { existsSync, mkdirSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { validationError } from "../http/errors.js";

const FIELD = "destination.path";
// Never the server's absolute directory: that is the operator's business, not the caller's.
const OUTSIDE = "must be a directory inside the export directory";

function inside(root: string, target: string): boolean {
  return target === root || target.startsWith(root + sep);
}

/**
 * Where a `file` destination lands: a directory under the export root, created if missing. The
 * deepest part that already exists is resolved (symlinks followed) and checked *before* anything
 * is created, so a symlink inside the root that leads out of it never gets a directory made
 * through it; the rest cannot be a symlink because it does not exist yet, and the result is
 * checked again after creation.
 */
export function resolveExportDirectory(exportRoot: string, path: string | undefined): string {
  if (!path) throw validationError({ [FIELD]: "is required for a file destination" });
  if (path.includes("\0") || path.split(/[\\/]/).includes("..")) throw validationError({ [FIELD]: "may not contain .. segments" });
  const root = resolve(exportRoot);
  const target = isAbsolute(path) ? resolve(path) : resolve(root, path);
  if (!inside(root, target)) throw validationError({ [FIELD]: OUTSIDE });
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const realRoot = realpathSync(root);
  let existing = target;
  while (!existsSync(existing)) existing = dirname(existing);
  if (!inside(realRoot, realpathSync(existing))) throw validationError({ [FIELD]: OUTSIDE });
  mkdirSync(target, { recursive: true, mode: 0o700 });
  const realTarget = realpathSync(target);
  if (!inside(realRoot, realTarget)) throw validationError({ [FIELD]: OUTSIDE });
  return realTarget;
}

/** A written file's path as the manifest shows it: relative to the export root. */
export function manifestPath(exportRoot: string, file: string): string {
  return relative(realpathSync(resolve(exportRoot)), file);
}
