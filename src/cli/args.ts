/**
 * A strict argv parser. Each command declares its flags (usually inferred from its usage line,
 * see flagsFromUsage); anything else is a UsageError (exit 5) with a "did you mean" hint, so a
 * typo such as `--feild` can never be silently ignored.
 */
export class UsageError extends Error {}

export type FlagKind = "string" | "boolean";
export type FlagSpecs = Record<string, FlagKind>;

export interface Parsed {
  positionals: string[];
  flags: Map<string, string[]>;
  /** Everything after a bare `--` (for `scaivault run -- cmd args`). */
  rest: string[];
}

/** Flags every command accepts. */
export const GLOBAL_FLAGS: FlagSpecs = {
  "base-url": "string",
  token: "string",
  tenant: "string",
  "ca-cert": "string",
  output: "string",
  json: "boolean",
  debug: "boolean",
  help: "boolean",
};
const SHORT: Record<string, string> = { o: "output", h: "help" };

/**
 * Flags named in a usage line: `--name VALUE` takes a value, a bare `--name` (followed by `]`,
 * `|`, `<…>`, another flag or nothing) is a boolean.
 */
export function flagsFromUsage(usage: string): FlagSpecs {
  const specs: FlagSpecs = {};
  const tokens = usage.split(/\s+/).filter(Boolean);
  tokens.forEach((raw, i) => {
    const match = /^\[?--([a-z][a-z0-9-]*)(\]*)/.exec(raw);
    if (!match) return;
    const [, name, closing] = match;
    const eq = raw.indexOf("=");
    const next = tokens[i + 1];
    const takesValue = eq > 0 || (!closing && next !== undefined && !/^(\[|\||<|--|\.\.\.)/.test(next) && next !== "]");
    if (specs[name] !== "string") specs[name] = takesValue ? "string" : "boolean";
  });
  return specs;
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** The closest candidate within a small distance (or one the word is a prefix of), else null. */
export function suggest(word: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestScore = Infinity;
  for (const candidate of candidates) {
    const d = candidate.startsWith(word) && word.length >= 3 ? 0.5 : distance(word, candidate);
    if (d < bestScore) [best, bestScore] = [candidate, d];
  }
  return best !== null && bestScore <= (word.length >= 4 ? 2 : 1) ? best : null;
}

function unknownFlag(name: string, specs: FlagSpecs): UsageError {
  const hint = suggest(name, Object.keys(specs));
  return new UsageError(`unknown flag --${name}${hint ? `; did you mean --${hint}?` : ""} (see --help)`);
}

/** Parses strictly against `specs`; unknown flags and missing values are UsageErrors. */
export function parseArgs(argv: string[], specs: FlagSpecs = GLOBAL_FLAGS): Parsed {
  const positionals: string[] = [];
  const flags = new Map<string, string[]>();
  const add = (name: string, value: string) => flags.set(name, [...(flags.get(name) ?? []), value]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") return { positionals, flags, rest: argv.slice(i + 1) };
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith("--") && arg.length > 2) {
      const eq = arg.indexOf("=");
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    } else if (/^-[a-zA-Z]/.test(arg)) {
      const long = SHORT[arg[1]];
      if (!long) throw new UsageError(`unknown flag ${arg.slice(0, 2)} (see --help)`);
      name = long;
      inline = arg.length > 2 ? arg.slice(2).replace(/^=/, "") : undefined;
    } else {
      positionals.push(arg);
      continue;
    }
    const kind = specs[name];
    if (!kind) throw unknownFlag(name, specs);
    if (kind === "boolean") {
      if (inline !== undefined && !["true", "false", "1", "0"].includes(inline)) throw new UsageError(`--${name} is a switch: give it alone or as --${name}=true|false`);
      add(name, inline ?? "true");
    } else if (inline !== undefined) add(name, inline);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
      add(name, argv[++i]);
    }
  }
  return { positionals, flags, rest: [] };
}

export class Args {
  constructor(private readonly parsed: Parsed) {}

  get positionals(): string[] {
    return this.parsed.positionals;
  }

  /** The words after `--`. */
  get rest(): string[] {
    return this.parsed.rest;
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
