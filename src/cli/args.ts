/** A small argv parser: positionals, `--flag value`, `--flag=value`, boolean flags, repeated flags. */
export class UsageError extends Error {}

export interface Parsed {
  positionals: string[];
  flags: Map<string, string[]>;
}

const BOOLEAN_FLAGS = new Set(["exchange", "github-actions", "json", "hard", "permanent", "help", "debug", "force", "include-overdue", "enabled", "disabled", "stdin", "yes"]);

export function parseArgs(argv: string[]): Parsed {
  const positionals: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--") && arg.length > 2) {
      const eq = arg.indexOf("=");
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      let value: string;
      if (eq >= 0) value = arg.slice(eq + 1);
      else if (BOOLEAN_FLAGS.has(name)) value = "true";
      else {
        if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
        value = argv[++i];
      }
      flags.set(name, [...(flags.get(name) ?? []), value]);
    } else if (arg === "-h") flags.set("help", ["true"]);
    else positionals.push(arg);
  }
  return { positionals, flags };
}

export class Args {
  constructor(private readonly parsed: Parsed) {}

  get positionals(): string[] {
    return this.parsed.positionals;
  }

  has(name: string): boolean {
    return this.parsed.flags.has(name);
  }

  flag(name: string): string | undefined {
    const values = this.parsed.flags.get(name);
    return values?.[values.length - 1];
  }

  all(name: string): string[] {
    return this.parsed.flags.get(name) ?? [];
  }

  bool(name: string): boolean {
    const value = this.flag(name);
    return value !== undefined && value !== "false" && value !== "0";
  }

  int(name: string): number | undefined {
    const value = this.flag(name);
    if (value === undefined) return undefined;
    if (!/^\d{1,9}$/.test(value)) throw new UsageError(`--${name} must be a whole number`);
    return Number(value);
  }

  /** A comma-separated (or repeated) flag as a list. */
  list(name: string): string[] | undefined {
    const values = this.all(name);
    if (!values.length) return undefined;
    return values.flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
  }

  positional(index: number, what: string): string {
    const value = this.parsed.positionals[index];
    if (value === undefined) throw new UsageError(`missing ${what}`);
    return value;
  }
}
