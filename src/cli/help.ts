/** Help text: the whole CLI, one group, one command — each with examples. */
import { GLOBAL_FLAGS } from "./args.js";
import type { CommandSpec, GroupModule } from "./registry.js";

const GLOBALS = `Global flags:
  -o, --output json|yaml|table|env   output format (--json = -o json); tables by default
  --base-url URL  --token T  --tenant ID  --ca-cert FILE (a PEM CA bundle for a private CA)
  --debug  -h, --help
Settings: flags, then SCAIVAULT_URL / SCAIVAULT_TOKEN / SCAIVAULT_TENANT_ID / SCAIVAULT_PARTNER_ID /
SCAIVAULT_CACERT, then ~/.scaivault/config.json. SCAIVAULT_DEBUG=1 prints request ids and codes in full.
Exit codes: 0 ok, 1 general, 2 authentication, 3 authorization, 4 not found, 5 validation.`;

export function globalHelp(groups: GroupModule[]): string {
  const width = Math.max(...groups.map((g) => g.name.length));
  return `scaivault — the ScaiVault command line

Usage: scaivault <group> <command> [args] [flags]     scaivault <group> --help lists its commands

${groups.map((g) => `  ${g.name.padEnd(width)}  ${g.summary}`).join("\n")}

Examples:
  scaivault auth login --token skt_…
  scaivault secrets write app/db user=app password=s3cret
  scaivault secrets read app/db --field password
  scaivault run --prefix app/ -- node server.js
  scaivault completion bash > /etc/bash_completion.d/scaivault

${GLOBALS}
Flags known to every command: ${Object.keys(GLOBAL_FLAGS).map((f) => `--${f}`).join(" ")}`;
}

export function groupHelp(group: GroupModule): string {
  const lines = Object.entries(group.commands).map(([, c]) => `  ${group.name} ${c.usage}${c.summary ? `\n      ${c.summary}` : ""}`);
  const examples = Object.values(group.commands).flatMap((c) => c.examples.slice(0, 1));
  return `scaivault ${group.name} — ${group.summary}

Commands:
${lines.join("\n")}

Examples:
${examples.map((e) => `  ${e}`).join("\n")}

Run scaivault ${group.name} <command> --help for one command's flags and examples.
${GLOBALS}`;
}

export function commandHelp(group: GroupModule, name: string, command: CommandSpec): string {
  const aliases = command.aliases?.length ? `\nAliases: ${command.aliases.map((a) => `${group.name} ${a}`).join(", ")}` : "";
  return `Usage: scaivault ${group.name} ${command.usage}
${command.summary ? `\n${command.summary}\n` : ""}${aliases}
Examples:
${command.examples.map((e) => `  ${e}`).join("\n")}

${GLOBALS}`.replace(/\n{3,}/g, "\n\n") + (name ? "" : "");
}
