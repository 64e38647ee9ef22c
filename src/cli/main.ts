#!/usr/bin/env node
import { ScaiVaultClient, ScaiVaultError } from "@scailabs/scaivault";
import { Args, parseArgs, UsageError } from "./args.js";
import { CONFIG_KEYS, configPath, readConfig, resolveSettings, writeConfig, type CliConfig } from "./config.js";
import { manageCommand, MANAGE_HELP } from "./commands/manage.js";
import { secretsCommand, SECRETS_HELP } from "./commands/secrets.js";
import { exchangeLogin, EXCHANGE_HELP } from "./commands/exchange.js";
import type { Ctx } from "./commands/context.js";
import { printObject, show } from "./output.js";
import { VERSION } from "../system/routes.js";

const HELP = `scaivault — the ScaiVault command line

Usage: scaivault <group> <command> [args] [--json] [--base-url URL] [--token T] [--tenant ID]

  config set <key> <value> | get <key> | list      keys: ${CONFIG_KEYS.join(", ")}
  auth login --token T | logout | whoami
  ${EXCHANGE_HELP}
${SECRETS_HELP.replace(/^/gm, "  ")}
${MANAGE_HELP.replace(/^/gm, "  ")}
  server [start] | status                          run the vault here, or check one

Settings: flags, then SCAIVAULT_URL / SCAIVAULT_TOKEN / SCAIVAULT_TENANT_ID / SCAIVAULT_PARTNER_ID,
then ${"~/.scaivault/config.json"}. SCAIVAULT_DEBUG=1 prints request ids and codes in full.
Exit codes: 0 ok, 1 general, 2 authentication, 3 authorization, 4 not found, 5 validation.`;

export const EXIT = { ok: 0, general: 1, auth: 2, authz: 3, notFound: 4, validation: 5 } as const;

function exitCodeFor(error: ScaiVaultError): number {
  if (error.status === 401) return EXIT.auth;
  if (error.status === 403) return EXIT.authz;
  if (error.status === 404 || error.status === 410) return EXIT.notFound;
  if (error.status === 400 || error.status === 413 || error.status === 422) return EXIT.validation;
  return EXIT.general;
}

async function configCommand(ctx: Ctx, sub: string | undefined): Promise<void> {
  const config = readConfig();
  const key = ctx.args.positionals[2] as keyof CliConfig | undefined;
  const checkKey = () => {
    if (!key || !(CONFIG_KEYS as readonly string[]).includes(key)) throw new UsageError(`config key must be one of ${CONFIG_KEYS.join(", ")}`);
  };
  switch (sub) {
    case "set": {
      checkKey();
      const value = ctx.args.positional(3, "value");
      writeConfig({ ...config, [key!]: value });
      process.stdout.write(`set ${key} in ${configPath()}\n`);
      return;
    }
    case "get":
      checkKey();
      if (config[key!] === undefined) throw new UsageError(`${key} is not set`);
      process.stdout.write(`${key === "token" ? "(set; not shown)" : config[key!]}\n`);
      return;
    case "unset":
      checkKey();
      delete config[key!];
      writeConfig(config);
      return;
    case "list": {
      const shown = { ...config, ...(config.token ? { token: "(set; not shown)" } : {}) };
      return show(ctx.out, shown, () => printObject(shown as Record<string, unknown>, Object.keys(shown)));
    }
    default:
      throw new UsageError("scaivault config set <key> <value> | get <key> | unset <key> | list");
  }
}

async function authCommand(ctx: Ctx, sub: string | undefined): Promise<void> {
  switch (sub) {
    case "login": {
      // identity domain: workload token exchange (src/cli/commands/exchange.ts)
      if (ctx.args.bool("exchange")) return exchangeLogin(ctx);
      const token = ctx.args.flag("token") ?? process.env.SCAIVAULT_TOKEN;
      if (!token) throw new UsageError("scaivault auth login --token <token>");
      const settings = resolveSettings({ url: ctx.args.flag("base-url"), token, tenant: ctx.args.flag("tenant") });
      // Check the token before saving it: a typo fails here with exit code 2, not on the next command.
      const client = new ScaiVaultClient({ baseUrl: settings.baseUrl, token, retries: { maxAttempts: 1 } });
      const me = await client.auth.whoami();
      writeConfig({ ...readConfig(), token, ...(ctx.args.flag("base-url") ? { base_url: ctx.args.flag("base-url") } : {}) });
      process.stdout.write(`logged in as ${String(me.identity_id)} (tenant ${String(me.tenant_id)}); token saved to ${configPath()}\n`);
      return;
    }
    case "logout": {
      const config = readConfig();
      delete config.token;
      writeConfig(config);
      process.stdout.write("logged out\n");
      return;
    }
    case "whoami": {
      const me = await ctx.client().auth.whoami();
      return show(ctx.out, me, () => printObject(me));
    }
    default:
      throw new UsageError("scaivault auth login --token T | logout | whoami");
  }
}

async function serverCommand(ctx: Ctx, sub: string | undefined): Promise<void> {
  if (sub === undefined || sub === "start") {
    await import("../main.js");
    return new Promise<void>(() => {});
  }
  if (sub === "status") {
    const client = ctx.client();
    const [health, ready, version] = await Promise.all([client.system.health(), client.system.ready().catch((e: unknown) => ({ status: "not_ready", error: (e as Error).message })), client.system.version()]);
    const status = { health: health.status, ready: ready.status, version: version.version };
    return show(ctx.out, { health, ready, version }, () => printObject(status));
  }
  throw new UsageError("scaivault server [start] | status");
}

export async function run(argv: string[]): Promise<number> {
  const debug = process.env.SCAIVAULT_DEBUG === "1" || argv.includes("--debug");
  try {
    // `--version` alone is the CLI's version; after a command it is an option (`secrets read p --version 2`).
    if (argv[0] === "--version" || argv[0] === "-V") {
      process.stdout.write(`scaivault ${VERSION}\n`);
      return EXIT.ok;
    }
    const args = new Args(parseArgs(argv));
    const [group, sub] = args.positionals;
    if (!group || args.bool("help") || group === "help") {
      process.stdout.write(HELP + "\n");
      return EXIT.ok;
    }
    let client: ScaiVaultClient | null = null;
    const ctx: Ctx = {
      args,
      out: { json: args.bool("json") },
      client() {
        if (client) return client;
        const settings = resolveSettings({ url: args.flag("base-url"), token: args.flag("token"), tenant: args.flag("tenant") });
        if (!settings.token) {
          throw new ScaiVaultError({ code: "authentication_required", status: 401, message: "no token: run `scaivault auth login --token …` or set SCAIVAULT_TOKEN" });
        }
        client = new ScaiVaultClient({ baseUrl: settings.baseUrl, token: settings.token, tenantId: settings.tenantId });
        return client;
      },
    };
    try {
      if (group === "secrets") await secretsCommand(ctx, sub);
      else if (group === "config") await configCommand(ctx, sub);
      else if (group === "auth") await authCommand(ctx, sub);
      else if (group === "server") await serverCommand(ctx, sub);
      else if (["policies", "rotation", "webhooks", "subscriptions", "audit", "tokens", "secret-policies", "tenants"].includes(group)) await manageCommand(ctx, group, sub);
      else throw new UsageError(`unknown command "${group}"; see scaivault --help`);
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
