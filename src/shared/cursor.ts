import { VaultError } from "../http/errors.js";

/** Opaque keyset cursors: base64url JSON, checked for shape when they come back. */
export function encodeCursor(value: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

export function decodeCursor<T extends Record<string, string | number>>(cursor: string | undefined, shape: { [K in keyof T]: "string" | "number" }): T | null {
  if (cursor === undefined || cursor === "") return null;
  try {
    const value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as Record<string, unknown>;
    if (value && typeof value === "object" && Object.entries(shape).every(([key, type]) => typeof value[key] === type)) return value as T;
  } catch {
    // fall through: any undecodable cursor is the caller's mistake
  }
  throw new VaultError("invalid_cursor", "The cursor is malformed or expired");
}
