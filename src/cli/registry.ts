/**
 * How a command group plugs into the CLI. A group is a name, a one-line summary, its commands
 * (usage line, summary, examples) and one `run(ctx, sub)` that dispatches on the sub-command.
 * Flags are inferred from each usage line (`--name VALUE` takes a value, a bare `--name` is a
 * switch) unless a command lists them in `flags`; anything not declared is an error (exit 5).
 */
import { flagsFromUsage, type FlagSpecs } from "./args.js";
import type { Ctx } from "./commands/context.js";

export interface CommandSpec {
  /** The words after `scaivault <group>`, e.g. `read <path> [--version N|previous] [--field NAME]`. */
  usage: string;
  summary: string;
  examples: string[];
  aliases?: string[];
  /** Overrides or adds to the flags inferred from `usage`. */
  flags?: FlagSpecs;
}

export interface GroupModule {
  name: string;
  summary: string;
  /** Keyed by the sub-command word; a group with one command and no sub-command uses the key "". */
  commands: Record<string, CommandSpec>;
  run(ctx: Ctx, sub: string | undefined): Promise<void>;
}

export function flagsOf(command: CommandSpec): FlagSpecs {
  return { ...flagsFromUsage(command.usage), ...command.flags };
}

export function findCommand(group: GroupModule, sub: string | undefined): [string, CommandSpec] | null {
  const key = sub ?? "";
  if (group.commands[key]) return [key, group.commands[key]];
  for (const [name, spec] of Object.entries(group.commands)) if (spec.aliases?.includes(key)) return [name, spec];
  return null;
}

/**
 * For a module written in the older pattern (`FOO_HELP` + `fooCommand(ctx, sub)`): commands are
 * read from help lines of the form `scaivault <group> a <x> [--f V] | b …` (continuation lines
 * indented); `examples` adds examples per sub-command (the usage line is shown when none given).
 */
export function groupFromHelp(name: string, summary: string, help: string, run: GroupModule["run"], examples: Record<string, string[]> = {}, summaries: Record<string, string> = {}): GroupModule {
  const commands: Record<string, CommandSpec> = {};
  let inGroup = false;
  for (const line of help.split("\n")) {
    const head = new RegExp(`^\\s*scaivault ${name} `).exec(line);
    if (head) inGroup = true;
    else if (/^\s*scaivault /.test(line)) inGroup = false;
    if (!inGroup) continue;
    const body = head ? line.slice(head[0].length) : line;
    for (const part of body.split(" | ")) {
      const usage = part.trim();
      const sub = usage.split(/\s+/)[0];
      if (!sub || !/^[a-z][a-z0-9-]*$/.test(sub)) continue;
      const existing = commands[sub];
      commands[sub] = existing ? { ...existing, usage: `${existing.usage} | ${usage}` } : { usage, summary: summaries[sub] ?? "", examples: examples[sub] ?? [`scaivault ${name} ${usage}`] };
    }
  }
  return { name, summary, commands, run };
}
