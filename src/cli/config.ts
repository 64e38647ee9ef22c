import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { UsageError } from "./args.js";

/** `~/.scaivault/config.json`, holding the token: written with mode 0600 in a 0700 directory. */
export interface CliConfig {
  base_url?: string;
  token?: string;
  tenant_id?: string;
  partner_id?: string;
  ca_cert?: string;
}

export const CONFIG_KEYS = ["base_url", "token", "tenant_id", "partner_id", "ca_cert"] as const;
export const DEFAULT_BASE_URL = "http://127.0.0.1:8443";

export function configPath(): string {
  return process.env.SCAIVAULT_CONFIG_FILE || join(homedir(), ".scaivault", "config.json");
}

export function readConfig(): CliConfig {
  const file = configPath();
  if (!existsSync(file)) return {};
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as unknown;
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as CliConfig) : {};
  } catch {
    throw new UsageError(`the config file ${file} is not valid JSON`);
  }
}

export function writeConfig(config: CliConfig): void {
  const file = configPath();
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** Where each setting comes from, in order: flag, environment, config file, default. */
export function resolveSettings(flags: { url?: string; token?: string; tenant?: string; caCert?: string }): { baseUrl: string; token: string | undefined; tenantId: string | undefined; partnerId: string | undefined; caCert: string | undefined } {
  const config = readConfig();
  return {
    baseUrl: flags.url || process.env.SCAIVAULT_URL || config.base_url || DEFAULT_BASE_URL,
    token: flags.token || process.env.SCAIVAULT_TOKEN || config.token || undefined,
    tenantId: flags.tenant || process.env.SCAIVAULT_TENANT_ID || config.tenant_id || undefined,
    partnerId: process.env.SCAIVAULT_PARTNER_ID || config.partner_id || undefined,
    // A PEM file with the CA(s) that signed the vault's certificate (a private CA).
    caCert: flags.caCert || process.env.SCAIVAULT_CACERT || config.ca_cert || undefined,
  };
}
