import { readFileSync } from "node:fs";
import { UsageError } from "../args.js";
import { printObject, printTable, show } from "../output.js";
import type { Ctx } from "./context.js";
import type { CommandSpec, GroupModule } from "../registry.js";

const commands: Record<string, CommandSpec> = {
  read: {
    usage: "read <path> [--version N|previous] [--field NAME]",
    summary: "Read a secret's current (or an older) version; -o env prints its fields as KEY=value.",
    aliases: ["get"],
    examples: ["scaivault secrets read app/db", "scaivault secrets read app/db --field password", "scaivault secrets read app/db --version previous -o json", "scaivault secrets read app/db -o env"],
  },
  write: {
    usage: "write <path> key=value... | --type json --json-file FILE [--type T] [--expires-in 30d] [--max-versions N] [--cas N] [--tag T]... [--description D]",
    summary: "Write a new version: key=value pairs (value @file reads a file, - reads stdin) or a JSON file (- for stdin).",
    aliases: ["put"],
    examples: ["scaivault secrets write app/db user=app password=s3cret", "scaivault secrets write app/tls cert=@tls.crt key=@tls.key --tag prod", "echo '{\"a\": 1}' | scaivault secrets write app/cfg --type json --json-file -"],
  },
  list: {
    usage: "list [--prefix P] [--tag T] [--limit N] [--cursor C]",
    summary: "List the secrets you may see (no values).",
    aliases: ["ls"],
    examples: ["scaivault secrets list --prefix app/", "scaivault secrets list --tag prod -o yaml"],
  },
  delete: {
    usage: "delete <path> [--hard] [--permanent]",
    summary: "Soft-delete (recoverable for 30 days), or destroy everything with --hard.",
    aliases: ["rm"],
    examples: ["scaivault secrets delete app/old", "scaivault secrets delete app/old --hard"],
  },
  undelete: { usage: "undelete <path>", summary: "Restore a soft-deleted secret.", examples: ["scaivault secrets undelete app/old"] },
  versions: { usage: "versions <path>", summary: "List a secret's versions and their states.", examples: ["scaivault secrets versions app/db"] },
  metadata: { usage: "metadata <path>", summary: "Show a secret's metadata (needs list, not read).", examples: ["scaivault secrets metadata app/db -o json"] },
  rotate: { usage: "rotate <path>", summary: "Rotate a secret now under its rotation policy.", examples: ["scaivault secrets rotate app/db"] },
  expiring: { usage: "expiring [--days N] [--prefix P] [--limit N]", summary: "Secrets expiring within N days (default 30).", examples: ["scaivault secrets expiring --days 7", "scaivault secrets expiring --prefix app/ -o json"] },
};

let stdinCache: string | null = null;
function stdin(): string {
  stdinCache ??= readFileSync(0, "utf8");
  return stdinCache;
}

function readSource(source: string): string {
  return source === "-" ? stdin() : readFileSync(source, "utf8");
}

/** `k=v` pairs; `k=@file` takes the file's content and `k=-` stdin (both without one trailing newline). */
function pairsToData(pairs: string[]): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`expected key=value, got "${pair.length > 40 ? pair.slice(0, 40) + "…" : pair.split("=")[0]}"`);
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    data[key] = raw === "-" ? stdin().replace(/\r?\n$/, "") : raw.startsWith("@") ? readSource(raw.slice(1)).replace(/\r?\n$/, "") : raw;
  }
  return data;
}

function jsonData(source: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readSource(source));
  } catch {
    throw new UsageError(`--json-file ${source} is not valid JSON`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new UsageError("--json-file must hold a JSON object");
  return parsed as Record<string, unknown>;
}

async function secretsCommand(ctx: Ctx, sub: string | undefined): Promise<void> {
  const { args, out } = ctx;
  const path = () => args.positional(2, "secret path");
  switch (sub) {
    case "read":
    case "get": {
      const v = args.flag("version");
      if (v !== undefined && v !== "previous" && !/^\d+$/.test(v)) throw new UsageError("--version must be a number or previous");
      const secret = await ctx.client().secrets.read(path(), { version: v === undefined ? undefined : v === "previous" ? "previous" : Number(v) });
      const field = args.flag("field");
      if (field !== undefined) {
        if (!(field in secret.data)) throw new UsageError(`the secret has no field "${field}"`);
        const value = secret.data[field];
        process.stdout.write((typeof value === "string" ? value : JSON.stringify(value)) + "\n");
        return;
      }
      return show(out, secret, () => {
        process.stdout.write(`path: ${secret.path}  version: ${secret.version}  type: ${secret.secret_type}\n`);
        printTable(Object.entries(secret.data).map(([key, value]) => ({ key, value })), ["key", "value"]);
      }, secret.data);
    }
    case "write":
    case "put": {
      const jsonFile = args.flag("json-file");
      const pairs = args.positionals.slice(3);
      if (jsonFile !== undefined && pairs.length) throw new UsageError("give key=value pairs or --json-file, not both");
      if (jsonFile === undefined && !pairs.length) throw new UsageError("nothing to write: give key=value pairs or --json-file FILE");
      const data = jsonFile !== undefined ? jsonData(jsonFile) : pairsToData(pairs);
      const tags = args.list("tag");
      const description = args.flag("description");
      const result = await ctx.client().secrets.write(path(), data, {
        secretType: args.flag("type") as never,
        expiresIn: args.flag("expires-in"),
        maxVersions: args.int("max-versions"),
        cas: args.int("cas"),
        metadata: tags || description !== undefined ? { ...(tags ? { tags } : {}), ...(description !== undefined ? { description } : {}) } : undefined,
      });
      return show(out, result, () => process.stdout.write(`wrote ${result.path} version ${result.version}\n`));
    }
    case "list":
    case "ls": {
      const page = await ctx.client().secrets.list({ prefix: args.flag("prefix"), tag: args.flag("tag"), limit: args.int("limit"), cursor: args.flag("cursor") });
      if (out.format !== "table") return show(out, { secrets: page.data, cursor: page.cursor, has_more: page.hasMore }, () => {});
      printTable(page.data.map((s) => ({ ...s, tags: s.metadata.tags })), ["path", "version", "secret_type", "tags", "updated_at", "expires_at"]);
      if (page.hasMore) process.stdout.write(`more: --cursor ${page.cursor}\n`);
      return;
    }
    case "delete":
    case "rm": {
      const result = await ctx.client().secrets.delete(path(), { permanent: args.bool("hard") || args.bool("permanent") });
      return show(out, result, () => process.stdout.write(result.permanent ? `destroyed ${path()}\n` : `deleted ${path()} (recoverable until ${result.recoverable_until})\n`));
    }
    case "undelete": {
      const result = await ctx.client().secrets.undelete(path());
      return show(out, result, () => process.stdout.write(`restored ${result.path} version ${result.version}\n`));
    }
    case "versions": {
      const result = await ctx.client().secrets.versions(path());
      return show(out, result, () => printTable(result.versions, ["version", "state", "created_at", "created_by"]));
    }
    case "metadata": {
      const result = await ctx.client().secrets.readMetadata(path());
      return show(out, result, () => printObject({ ...result, tags: result.metadata.tags, description: result.metadata.description }, ["path", "secret_type", "current_version", "versions_count", "description", "tags", "expires_at", "rotation_policy_id", "updated_at"]));
    }
    case "rotate": {
      const result = await ctx.client().secrets.rotate(path());
      return show(out, result, () => printObject(result));
    }
    case "expiring": {
      const days = args.int("days") ?? 30;
      const answer = (await ctx.client().secrets.expiring({ within: `${days}d`, limit: args.int("limit") })) as { data?: Record<string, unknown>[] };
      const prefix = args.flag("prefix");
      const rows = (answer.data ?? []).filter((s) => !prefix || String(s.path).startsWith(prefix));
      return show(out, { ...answer, data: rows }, () => printTable(rows, ["path", "version", "expires_at", "expired"]));
    }
    default:
      throw new UsageError(`unknown command "secrets ${sub ?? ""}"`);
  }
}

export const SECRETS_GROUP: GroupModule = { name: "secrets", summary: "read, write, list and manage secrets", commands, run: secretsCommand };
