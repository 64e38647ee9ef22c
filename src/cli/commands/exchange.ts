import { readFileSync } from "node:fs";
import { exchangeToken } from "@scailabs/scaivault";
import { UsageError } from "../args.js";
import { configPath, readConfig, resolveSettings, writeConfig } from "../config.js";
import type { Ctx } from "./context.js";

export const EXCHANGE_HELP = "auth login --exchange (--jwt-file F | --github-actions [--audience A]) [--role ID] [--tenant-id T]";

/**
 * GitHub Actions' OIDC token for this job: the runner hands out `ACTIONS_ID_TOKEN_REQUEST_URL` and
 * `_TOKEN` when the workflow has `permissions: id-token: write`.
 */
async function githubActionsToken(audience: string): Promise<string> {
  const url = process.env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const bearer = process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!url || !bearer) throw new UsageError("--github-actions needs ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN: give the workflow `permissions: id-token: write`");
  const target = new URL(url);
  target.searchParams.set("audience", audience);
  const response = await fetch(target, { headers: { authorization: `Bearer ${bearer}`, accept: "application/json" }, signal: AbortSignal.timeout(10_000) });
  const body = (await response.json().catch(() => ({}))) as { value?: unknown };
  if (!response.ok || typeof body.value !== "string") throw new UsageError(`GitHub's OIDC endpoint answered ${response.status} without a token`);
  return body.value;
}

/** `scaivault auth login --exchange …`: a workload token traded for a short-lived vault token, saved like `--token`. */
export async function exchangeLogin(ctx: Ctx): Promise<void> {
  const file = ctx.args.flag("jwt-file");
  const github = ctx.args.bool("github-actions");
  if (Boolean(file) === github) throw new UsageError(`scaivault ${EXCHANGE_HELP}`);
  const subjectToken = file ? readFileSync(file === "-" ? 0 : file, "utf8").trim() : await githubActionsToken(ctx.args.flag("audience") ?? "scaivault");
  const settings = resolveSettings({ url: ctx.args.flag("base-url"), tenant: ctx.args.flag("tenant-id") ?? ctx.args.flag("tenant") });
  const result = await exchangeToken(settings.baseUrl, { subjectToken, role: ctx.args.flag("role"), tenantId: ctx.args.flag("tenant-id") });
  writeConfig({ ...readConfig(), token: result.access_token, ...(ctx.args.flag("base-url") ? { base_url: ctx.args.flag("base-url") } : {}) });
  process.stdout.write(`logged in as ${result.identity_id} until ${result.expires_at} (exchanged); token saved to ${configPath()}\n`);
}
