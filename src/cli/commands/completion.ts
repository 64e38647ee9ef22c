/** `scaivault completion bash|zsh|fish`: shell completion for groups, commands and flags, generated from the registry. */
import { GLOBAL_FLAGS, UsageError } from "../args.js";
import { flagsOf, type GroupModule } from "../registry.js";

function table(groups: GroupModule[]): { group: string; subs: string[]; flags: Record<string, string[]> }[] {
  return groups.map((g) => ({
    group: g.name,
    subs: Object.keys(g.commands).filter(Boolean),
    flags: Object.fromEntries(Object.entries(g.commands).map(([sub, c]) => [sub, [...Object.keys(flagsOf(c)), ...Object.keys(GLOBAL_FLAGS)].map((f) => `--${f}`)])),
  }));
}

function bash(groups: GroupModule[]): string {
  const t = table(groups);
  const subCases = t.map((g) => `    ${g.group}) subs="${g.subs.join(" ")}" ;;`).join("\n");
  const flagCases = t.flatMap((g) => Object.entries(g.flags).map(([sub, flags]) => `    "${g.group} ${sub}") flags="${flags.join(" ")}" ;;`)).join("\n");
  return `# bash completion for scaivault: source it, or save it to /etc/bash_completion.d/scaivault
_scaivault() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" group="\${COMP_WORDS[1]}" sub="\${COMP_WORDS[2]}" subs="" flags=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${t.map((g) => g.group).join(" ")}" -- "$cur") ); return
  fi
  case "$group" in
${subCases}
  esac
  if [ "$COMP_CWORD" -eq 2 ]; then COMPREPLY=( $(compgen -W "$subs" -- "$cur") ); return; fi
  case "$group $sub" in
${flagCases}
  esac
  if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "$flags" -- "$cur") ); fi
}
complete -o default -F _scaivault scaivault
`;
}

function zsh(groups: GroupModule[]): string {
  return `#compdef scaivault
# zsh completion for scaivault: save as _scaivault in a directory on $fpath, or source it after compinit
autoload -U +X bashcompinit && bashcompinit
${bash(groups).split("\n").slice(1).join("\n")}`;
}

function fish(groups: GroupModule[]): string {
  const t = table(groups);
  const lines = [`# fish completion for scaivault: save to ~/.config/fish/completions/scaivault.fish`, `complete -c scaivault -f`];
  for (const g of groups) lines.push(`complete -c scaivault -n "__fish_use_subcommand" -a ${g.name} -d ${JSON.stringify(g.summary)}`);
  for (const g of t) {
    lines.push(`complete -c scaivault -n "__fish_seen_subcommand_from ${g.group}; and not __fish_seen_subcommand_from ${g.subs.join(" ")}" -a "${g.subs.join(" ")}"`);
    for (const [sub, flags] of Object.entries(g.flags)) {
      const cond = sub ? `__fish_seen_subcommand_from ${g.group}; and __fish_seen_subcommand_from ${sub}` : `__fish_seen_subcommand_from ${g.group}`;
      for (const flag of flags) lines.push(`complete -c scaivault -n "${cond}" -l ${flag.slice(2)}`);
    }
  }
  return lines.join("\n") + "\n";
}

export function completionGroup(groups: () => GroupModule[]): GroupModule {
  const shells = { bash, zsh, fish } as const;
  return {
    name: "completion",
    summary: "shell completion script for bash, zsh or fish",
    commands: Object.fromEntries(
      (Object.keys(shells) as (keyof typeof shells)[]).map((shell) => [shell, { usage: shell, summary: `Print the ${shell} completion script.`, examples: shell === "fish" ? ["scaivault completion fish > ~/.config/fish/completions/scaivault.fish"] : shell === "bash" ? ["source <(scaivault completion bash)"] : ["scaivault completion zsh > \"${fpath[1]}/_scaivault\""] }]),
    ),
    async run(_ctx, sub) {
      const render = shells[sub as keyof typeof shells];
      if (!render) throw new UsageError("scaivault completion bash|zsh|fish");
      process.stdout.write(render(groups()));
    },
  };
}
