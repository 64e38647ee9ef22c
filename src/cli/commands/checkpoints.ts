/**
 * `scaivault audit checkpoints [--follow | --check FILE]`: the signed audit checkpoints (SPEC §5),
 * optionally as they are made, or a kept copy checked against what the vault lists now.
 */
import { readFileSync } from "node:fs";
import { createPublicKey, verify as verifySignature } from "node:crypto";
import { UsageError } from "../args.js";
import { printTable, show } from "../output.js";
import type { Ctx } from "./context.js";

type Checkpoint = Record<string, unknown>;

/** The list in either of the shapes a list endpoint uses (`checkpoints` or `data`). */
function listOf(answer: Record<string, unknown>): Checkpoint[] {
  const list = answer.checkpoints ?? answer.data;
  return Array.isArray(list) ? (list as Checkpoint[]) : [];
}

const keyOf = (c: Checkpoint) => String(c.id ?? `${String(c.chain)}:${String(c.entries)}:${String(c.head_hash)}`);
const COLUMNS = ["chain", "entries", "head_hash", "timestamp"];

export async function checkpointsCommand(ctx: Ctx): Promise<void> {
  const { args, out } = ctx;
  const query = { chain: args.flag("chain"), from: args.flag("from"), to: args.flag("to") };
  const fetchPage = (from?: string) => ctx.client().request<Record<string, unknown>>({ method: "GET", path: "/v1/audit/checkpoints", query: { ...query, ...(from ? { from } : {}) } });
  const kept = args.flag("check");
  if (kept !== undefined) return checkKeptCopy(ctx, kept);
  const first = await fetchPage();
  if (!args.bool("follow")) return show(out, first, () => printTable(listOf(first), COLUMNS));
  // Following: one line (or row) per checkpoint, each printed once, as new ones appear.
  const seen = new Set<string>();
  let since: string | undefined;
  const emit = (list: Checkpoint[]) => {
    for (const c of list) {
      const key = keyOf(c);
      if (seen.has(key)) continue;
      seen.add(key);
      if (typeof c.timestamp === "string" && (!since || c.timestamp > since)) since = c.timestamp;
      if (out.format === "table") printTable([c], COLUMNS);
      else process.stdout.write(JSON.stringify(c) + "\n");
    }
  };
  emit(listOf(first));
  const intervalMs = Math.max(1, Number(process.env.SCAIVAULT_FOLLOW_INTERVAL ?? 5)) * 1000;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    emit(listOf(await fetchPage(since)));
  }
}

interface PublicKey {
  pem: string;
  key_id: string;
}

/** The kept copy: JSON lines as `--follow -o json` writes them (blank lines skipped). */
function readKept(file: string): Checkpoint[] {
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch {
    throw new UsageError(`cannot read the kept checkpoints file ${file}`);
  }
  return text.split("\n").flatMap((line, index) => {
    if (line.trim() === "") return [];
    try {
      const value = JSON.parse(line) as Checkpoint;
      if (typeof value.chain === "string" && typeof value.entries === "number" && typeof value.head_hash === "string") return [value];
    } catch {
      // reported below
    }
    throw new UsageError(`${file}:${index + 1} is not a checkpoint line (as written by --follow -o json)`);
  });
}

/** Exactly the bytes the vault signs (docs/security.md): this key order, the timestamp as shown. */
function signatureChecks(key: PublicKey, c: Checkpoint): boolean {
  if (c.key_id !== key.key_id || typeof c.signature !== "string") return false;
  const message = Buffer.from(JSON.stringify({ chain: c.chain, entries: c.entries, head_hash: c.head_hash, timestamp: c.timestamp }), "utf8");
  try {
    return verifySignature(null, message, createPublicKey(key.pem), Buffer.from(c.signature, "base64"));
  } catch {
    return false;
  }
}

/**
 * Why this exists: someone who can write the database can roll a chain back and delete the
 * newest checkpoints with it, and then the node's own verify passes (docs/security.md). A copy of
 * the checkpoints kept off the node still shows it: every kept checkpoint that is validly signed
 * with the vault's key must still be listed by the vault, at the same position with the same head
 * hash. Exit status 1 when one is not (or when the kept copy does not check against the key).
 */
async function checkKeptCopy(ctx: Ctx, file: string): Promise<void> {
  const { out } = ctx;
  const copy = readKept(file);
  const listed = new Set<string>();
  let key: PublicKey | null = null;
  let cursor: string | undefined;
  for (;;) {
    const page = await ctx.client().request<Record<string, unknown>>({ method: "GET", path: "/v1/audit/checkpoints", query: { limit: "1000", ...(cursor ? { cursor } : {}) } });
    key ??= (page.public_key as PublicKey | undefined) ?? null;
    const list = listOf(page);
    for (const c of list) listed.add(`${String(c.chain)}:${String(c.entries)}:${String(c.head_hash)}`);
    if (page.has_more !== true || typeof page.cursor !== "string") break;
    cursor = page.cursor;
  }
  const unsigned = key ? copy.filter((c) => !signatureChecks(key as PublicKey, c)) : copy;
  const missing = copy.filter((c) => !unsigned.includes(c) && !listed.has(`${String(c.chain)}:${String(c.entries)}:${String(c.head_hash)}`));
  const brief = (c: Checkpoint) => ({ chain: c.chain, entries: c.entries, head_hash: c.head_hash, timestamp: c.timestamp });
  const result = { ok: missing.length === 0 && unsigned.length === 0, kept: copy.length, missing: missing.map(brief), not_signed_by_vault_key: unsigned.map(brief), key_id: key?.key_id ?? null };
  show(out, result, () => {
    if (result.ok) process.stdout.write(`ok: all ${copy.length} kept checkpoints are still listed by the vault\n`);
    if (missing.length > 0) {
      process.stdout.write(`TAMPERED: ${missing.length} kept checkpoint(s), validly signed, are no longer listed by the vault (the trail was cut or rewritten):\n`);
      printTable(result.missing, COLUMNS);
    }
    if (unsigned.length > 0) {
      process.stdout.write(`${unsigned.length} kept checkpoint(s) do not check against the vault's published key ${key?.key_id ?? "(none)"}: the copy was altered or the key changed:\n`);
      printTable(result.not_signed_by_vault_key, COLUMNS);
    }
  });
  if (!result.ok) process.exitCode = 1;
}
