#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { PermissionDeniedError, ScaiVaultClient, ScaiVaultError } from "@scailabs/scaivault";
import { Args, GLOBAL_FLAGS, parseArgs, suggest, UsageError } from "./args.js";
import { resolveSettings } from "./config.js";
import type { Ctx } from "./commands/context.js";
import { GROUPS } from "./groups.js";
import { commandHelp, globalHelp, groupHelp } from "./help.js";
import { outFor } from "./output.js";
import { findCommand, flagsOf, type GroupModule } from "./registry.js";

/** The package's version, read rather than imported from the server's modules (which load slowly). */
const VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

export const EXIT = { ok: 0, general: 1, auth: 2, authz: 3, notFound: 4, validation: 5 } as const;

function exitCodeFor(error: ScaiVaultError): number {
  if (error.status === 401) return EXIT.auth;
  if (error.status === 403 || error instanceof PermissionDeniedError) return EXIT.authz;
  if (error.status === 404 || error.status === 410) return EXIT.notFound;
  if (error.status === 400 || error.status === 413 || error.status === 422) return EXIT.validation;
  return EXIT.general;
}

/** The first two words that are not flags (or global flags' values), before any `--`. */
function locate(argv: string[]): string[] {
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const arg = argv[i];
    if (arg === "--") break;
    if (arg.startsWith("-") && arg !== "-") {
      const name = arg === "-o" ? "output" : arg.replace(/^--?/, "");
      if (GLOBAL_FLAGS[name] === "string") i++;
      continue;
    }
    words.push(arg);
  }
  return words;
}

const print = (text: string) => process.stdout.write(text.endsWith("\n") ? text : text + "\n");

function groupNamed(name: string): GroupModule {
  const group = GROUPS.find((g) => g.name === name);
  if (group) return group;
  const hint = suggest(name, GROUPS.map((g) => g.name));
  throw new UsageError(`unknown command "${name}"${hint ? `; did you mean "${hint}"?` : ""} (see scaivault --help)`);
}

export async function run(argv: string[]): Promise<number> {
  const debug = process.env.SCAIVAULT_DEBUG === "1" || argv.includes("--debug");
  try {
    // `--version` alone is the CLI's version; after a command it is an option (`secrets read p --version 2`).
    if (argv[0] === "--version" || argv[0] === "-V") {
      print(`scaivault ${VERSION}`);
      return EXIT.ok;
    }
    const [groupName, subWord] = locate(argv);
    if (!groupName || groupName === "help") {
      const globals = new Args(parseArgs(argv.filter((a) => a !== "help")));
      const [, target, targetSub] = ["help", ...globals.positionals];
      if (!target) return print(globalHelp(GROUPS)), EXIT.ok;
      const group = groupNamed(target);
      const found = targetSub !== undefined ? findCommand(group, targetSub) : null;
      print(found ? commandHelp(group, found[0], found[1]) : groupHelp(group));
      return EXIT.ok;
    }
    const group = groupNamed(groupName);
    const single = Object.keys(group.commands).length === 1 && group.commands[""] !== undefined;
    const found = findCommand(group, single ? "" : subWord);
    if (!found) {
      const wantsHelp = subWord === undefined && new Args(parseArgs(argv, GLOBAL_FLAGS)).bool("help");
      if (subWord === undefined && wantsHelp) return print(groupHelp(group)), EXIT.ok;
      if (subWord === undefined) throw new UsageError(`missing command\n\n${groupHelp(group)}`);
      const hint = suggest(subWord, Object.keys(group.commands));
      throw new UsageError(`unknown command "${group.name} ${subWord}"${hint ? `; did you mean "${group.name} ${hint}"?` : ""} (see scaivault ${group.name} --help)`);
    }
    const [sub, command] = found;
    const args = new Args(parseArgs(argv, { ...GLOBAL_FLAGS, ...flagsOf(command) }));
    if (args.bool("help")) return print(commandHelp(group, sub, command)), EXIT.ok;
    let client: ScaiVaultClient | null = null;
    const ctx: Ctx = {
      args,
      out: outFor(args.flag("output"), args.bool("json")),
      client() {
        if (client) return client;
        const settings = resolveSettings({ url: args.flag("base-url"), token: args.flag("token"), tenant: args.flag("tenant"), caCert: args.flag("ca-cert") });
        if (!settings.token) {
          throw new ScaiVaultError({ code: "authentication_required", status: 401, message: "no token: run `scaivault auth login --token …` or set SCAIVAULT_TOKEN" });
        }
        let ca: string | undefined;
        if (settings.caCert) {
          try {
            ca = readFileSync(settings.caCert, "utf8");
          } catch {
            throw new UsageError(`cannot read the CA certificate file ${settings.caCert}`);
          }
        }
        client = new ScaiVaultClient({ baseUrl: settings.baseUrl, token: settings.token, tenantId: settings.tenantId, partnerId: settings.partnerId, ...(ca ? { ca } : {}) });
        return client;
      },
    };
    try {
      await group.run(ctx, sub || undefined);
    } finally {
      (client as ScaiVaultClient | null)?.close();
    }
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n`);
      return EXIT.validation;
    }
    if (error instanceof ScaiVaultError) {
      const fields = error.details.fields as Record<string, string> | undefined;
      const extra = fields ? ` (${Object.entries(fields).map(([f, m]) => `${f}: ${m}`).join("; ")})` : "";
      process.stderr.write(`error: ${error.code}: ${error.message}${extra}${error.requestId ? ` [${error.requestId}]` : ""}\n`);
      if (debug) process.stderr.write(`status ${error.status}${error.retryAfter !== null ? `, retry after ${error.retryAfter}s` : ""}\n`);
      return exitCodeFor(error);
    }
    process.stderr.write(`error: ${(error as Error).message}\n`);
    if (debug) process.stderr.write(`${(error as Error).stack ?? ""}\n`);
    return EXIT.general;
  }
}

run(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
