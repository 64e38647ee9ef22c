/**
 * `scaivault agent --config FILE [--once]`: renders templates into files (mode 0600, written
 * atomically) and, unless --once, re-renders them when a secret they use changes (event stream).
 * Templates use `{{ secret "path" "field" }}` (one field) and `{{ secret "path" }}` (the data as
 * JSON). Config (YAML or JSON): `templates: [{source | contents, destination, command?}]`.
 */
import { execFile } from "node:child_process";
import { chmodSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import type { ScaiVaultClient } from "@scailabs/scaivault";
import { UsageError } from "../args.js";
import type { Ctx } from "../commands/context.js";
import type { CommandSpec } from "../registry.js";

export const AGENT_SPEC: CommandSpec = {
  usage: "--config FILE [--once]",
  summary: "Render secret templates into 0600 files; keep them current (or render once, for an init container).",
  examples: ["scaivault agent --config agent.yaml", "scaivault agent --config /etc/scaivault/agent.yaml --once"],
};

interface TemplateSpec {
  source?: string;
  contents?: string;
  destination: string;
  /** Run (by /bin/sh) after a re-render changed the file, e.g. `kill -HUP $(cat /run/app.pid)`. */
  command?: string;
}

const DIRECTIVE = /\{\{\s*secret\s+"([^"]+)"(?:\s+"([^"]+)")?\s*\}\}/g;

function loadConfig(file: string): TemplateSpec[] {
  let parsed: unknown;
  try {
    const text = readFileSync(file, "utf8");
    parsed = /\.json$/i.test(file) ? JSON.parse(text) : (createRequire(import.meta.url)("yaml") as typeof import("yaml")).parse(text);
  } catch (error) {
    throw new UsageError(`cannot read the agent config ${file}: ${(error as Error).message.split("\n")[0]}`);
  }
  const templates = (parsed as { templates?: unknown })?.templates;
  if (!Array.isArray(templates) || !templates.length) throw new UsageError(`${file}: templates must be a non-empty list`);
  return templates.map((t, i) => {
    const spec = t as TemplateSpec;
    if (!spec || typeof spec.destination !== "string" || (typeof spec.source !== "string") === (typeof spec.contents !== "string")) {
      throw new UsageError(`${file}: templates[${i}] needs a destination and exactly one of source or contents`);
    }
    // A relative source or destination is relative to the config file.
    const rel = (p: string) => (p.startsWith("/") ? p : join(dirname(file), p));
    return { ...spec, destination: rel(spec.destination), ...(spec.source ? { source: rel(spec.source) } : {}) };
  });
}

/** The template text and the secret paths it reads. */
function templateOf(spec: TemplateSpec): { text: string; paths: string[] } {
  const text = spec.contents ?? readFileSync(spec.source!, "utf8");
  return { text, paths: [...new Set([...text.matchAll(DIRECTIVE)].map((m) => m[1]))] };
}

async function render(client: ScaiVaultClient, text: string, paths: string[]): Promise<string> {
  const data = new Map<string, Record<string, unknown>>();
  for (const path of paths) data.set(path, (await client.secrets.read(path)).data);
  return text.replace(DIRECTIVE, (_all, path: string, field?: string) => {
    const secret = data.get(path)!;
    if (field === undefined) return JSON.stringify(secret);
    if (!(field in secret)) throw new UsageError(`${path} has no field "${field}"`);
    const value = secret[field];
    return typeof value === "string" ? value : JSON.stringify(value);
  });
}

/** Writes through a 0600 temporary file and a rename: readers never see a half-written file. */
function writeAtomically(destination: string, content: string): boolean {
  try {
    if (readFileSync(destination, "utf8") === content) return false;
  } catch {
    // Not there yet.
  }
  const temp = join(dirname(destination), `.${basename(destination)}.${process.pid}.tmp`);
  writeFileSync(temp, content, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, destination);
  return true;
}

export async function agentCommand(ctx: Ctx): Promise<void> {
  const file = ctx.args.flag("config");
  if (!file) throw new UsageError("--config FILE is required");
  const templates = loadConfig(file).map((spec) => ({ spec, ...templateOf(spec) }));
  const client = ctx.client();
  const renderOne = async (t: (typeof templates)[number], initial: boolean) => {
    const changed = writeAtomically(t.spec.destination, await render(client, t.text, t.paths));
    process.stderr.write(`scaivault agent: ${changed ? "rendered" : "unchanged"} ${t.spec.destination}\n`);
    if (changed && !initial && t.spec.command) {
      execFile("/bin/sh", ["-c", t.spec.command], (error) => {
        if (error) process.stderr.write(`scaivault agent: the command for ${t.spec.destination} failed: ${error.message}\n`);
      });
    }
  };
  if (ctx.args.bool("once")) {
    for (const t of templates) await renderOne(t, true);
    return;
  }
  const allPaths = [...new Set(templates.flatMap((t) => t.paths))];
  let queue = Promise.resolve();
  let opened = false;
  const renderAll = (initial: boolean) => Promise.all(templates.map((t) => renderOne(t, initial).catch((e: Error) => process.stderr.write(`scaivault agent: ${t.spec.destination}: ${e.message}\n`)))).then(() => {});
  // The stream opens before the first render so no change in between is missed.
  await new Promise<void>((resolve) => {
    client.streamEvents(
      {
        onOpen: () => {
          // After a reconnect without resume some change may have been missed: render everything.
          const initial = !opened;
          opened = true;
          queue = queue.then(() => renderAll(initial));
          resolve();
        },
        onEvent: (event) => {
          const hit = templates.filter((t) => event.path && t.paths.includes(event.path));
          queue = queue.then(async () => {
            for (const t of hit) await renderOne(t, false).catch((e: Error) => process.stderr.write(`scaivault agent: ${t.spec.destination}: ${e.message}\n`));
          });
        },
        onDown: (error) => process.stderr.write(`scaivault agent: event stream down (${(error as Error).message}); reconnecting\n`),
      },
      { paths: allPaths },
    );
  });
  await queue;
  process.stderr.write("scaivault agent: watching for changes\n");
  await new Promise<void>((resolve) => {
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => resolve());
  });
}
