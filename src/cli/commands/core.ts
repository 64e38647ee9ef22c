/** The CLI's own groups: config, auth and server. */
import { exchangeLogin } from "./exchange.js";
import { ScaiVaultClient } from "@scailabs/scaivault";
import { UsageError } from "../args.js";
import { CONFIG_KEYS, configPath, readConfig, resolveSettings, writeConfig, type CliConfig } from "../config.js";
import { printObject, show } from "../output.js";
import type { GroupModule } from "../registry.js";
import type { Ctx } from "./context.js";

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
      throw new UsageError(`unknown command "config ${sub ?? ""}"`);
  }
}

async function authCommand(ctx: Ctx, sub: string | undefined): Promise<void> {
  switch (sub) {
    case "login": {
      // identity domain: a workload token traded for a short-lived vault token (src/cli/commands/exchange.ts).
      if (ctx.args.bool("exchange")) return exchangeLogin(ctx);
      const token = ctx.args.flag("token") ?? process.env.SCAIVAULT_TOKEN;
      if (!token) throw new UsageError("scaivault auth login --token <token>");
      const settings = resolveSettings({ url: ctx.args.flag("base-url"), token, tenant: ctx.args.flag("tenant"), caCert: ctx.args.flag("ca-cert") });
      // Check the token before saving it: a typo fails here with exit code 2, not on the next command.
      const client = new ScaiVaultClient({ baseUrl: settings.baseUrl, token, retries: { maxAttempts: 1 }, ...(settings.caCert ? { ca: settings.caCert } : {}) });
      try {
        const me = await client.auth.whoami();
        writeConfig({ ...readConfig(), token, ...(ctx.args.flag("base-url") ? { base_url: ctx.args.flag("base-url") } : {}) });
        process.stdout.write(`logged in as ${String(me.identity_id)} (tenant ${String(me.tenant_id)}); token saved to ${configPath()}\n`);
      } finally {
        client.close();
      }
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
      throw new UsageError(`unknown command "auth ${sub ?? ""}"`);
  }
}

async function serverCommand(ctx: Ctx, sub: string | undefined): Promise<void> {
  if (sub === undefined || sub === "start") {
    await import("../../main.js");
    return new Promise<void>(() => {});
  }
  const client = ctx.client();
  const [health, ready, version] = await Promise.all([client.system.health(), client.system.ready().catch((e: unknown) => ({ status: "not_ready", error: (e as Error).message })), client.system.version()]);
  const status = { health: health.status, ready: ready.status, version: version.version };
  return show(ctx.out, { health, ready, version }, () => printObject(status));
}

export const CORE_GROUPS: GroupModule[] = [
  {
    name: "config",
    summary: `settings in ~/.scaivault/config.json (keys: ${CONFIG_KEYS.join(", ")})`,
    run: configCommand,
    commands: {
      set: { usage: "set <key> <value>", summary: "Save a setting.", examples: ["scaivault config set base_url https://vault.example.com", "scaivault config set tenant_id acme"] },
      get: { usage: "get <key>", summary: "Show a setting (the token is never shown).", examples: ["scaivault config get base_url"] },
      unset: { usage: "unset <key>", summary: "Remove a setting.", examples: ["scaivault config unset tenant_id"] },
      list: { usage: "list", summary: "Show every setting.", examples: ["scaivault config list", "scaivault config list -o json"] },
    },
  },
  {
    name: "auth",
    summary: "log in with a token and check who you are",
    run: authCommand,
    commands: {
      login: {
        usage: "login --token T | login --exchange [--jwt-file F] [--github-actions] [--audience A] [--role ID] [--tenant-id T]",
        summary: "Check a token and save it (mode 0600), or exchange a workload token (GitHub Actions, Kubernetes) for one.",
        examples: ["scaivault auth login --token skt_…", "SCAIVAULT_TOKEN=skt_… scaivault auth login", "scaivault auth login --exchange --github-actions --role sa:deploy --tenant-id tnt_acme", "scaivault auth login --exchange --jwt-file /var/run/secrets/tokens/vault --role sa:api"],
      },
      logout: { usage: "logout", summary: "Forget the saved token.", examples: ["scaivault auth logout"] },
      whoami: { usage: "whoami", summary: "Show the identity, tenant and scopes of the token in use.", examples: ["scaivault auth whoami", "scaivault auth whoami -o json"] },
    },
  },
  {
    name: "server",
    summary: "run the vault here, or check one",
    run: serverCommand,
    commands: {
      start: { usage: "start", summary: "Start the vault server in this process (configured by environment).", examples: ["DATABASE_URL=sqlite:./data/vault.db scaivault server start"] },
      status: { usage: "status", summary: "Health, readiness and version of the vault at --base-url.", examples: ["scaivault server status", "scaivault server status -o json"] },
    },
  },
];
