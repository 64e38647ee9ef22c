/**
 * Every command group of the CLI, in help order. To add a group: write a GroupModule (see
 * registry.ts; or wrap an older `FOO_HELP` + `fooCommand` module with groupFromHelp) and add it here.
 */
import { completionGroup } from "./commands/completion.js";
import { CORE_GROUPS } from "./commands/core.js";
import { MANAGE_GROUPS } from "./commands/manage-groups.js";
import { SECRETS_GROUP } from "./commands/secrets.js";
import type { GroupModule } from "./registry.js";
import { WORKFLOW_GROUPS } from "./workflows/groups.js";

export const GROUPS: GroupModule[] = [
  ...CORE_GROUPS.slice(0, 2),
  SECRETS_GROUP,
  ...WORKFLOW_GROUPS,
  ...MANAGE_GROUPS,
  // Other domains' groups (identity, pki, dynamic) go here.
  CORE_GROUPS[2],
  completionGroup(() => GROUPS),
];
