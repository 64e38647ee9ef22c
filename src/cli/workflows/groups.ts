/** The workflow commands (SPEC §11) as single-command groups: `scaivault run|export|import|agent …`. */
import type { GroupModule } from "../registry.js";
import { agentCommand, AGENT_SPEC } from "./agent.js";
import { runCommand, RUN_SPEC } from "./run.js";
import { exportCommand, EXPORT_SPEC, importCommand, IMPORT_SPEC } from "./transfer.js";

export const WORKFLOW_GROUPS: GroupModule[] = [
  { name: "run", summary: "run a command with secrets as environment variables", commands: { "": RUN_SPEC }, run: runCommand },
  { name: "export", summary: "print the secrets below a prefix as .env, JSON or YAML", commands: { "": EXPORT_SPEC }, run: exportCommand },
  { name: "import", summary: "write secrets from a .env, JSON or YAML file (idempotent, --dry-run)", commands: { "": IMPORT_SPEC }, run: importCommand },
  { name: "agent", summary: "render secret templates into 0600 files and keep them current", commands: { "": AGENT_SPEC }, run: agentCommand },
];
