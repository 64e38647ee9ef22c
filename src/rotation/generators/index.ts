import { randomBytes, randomUUID } from "node:crypto";
import bcrypt from "bcryptjs";
import type { TenantGeneration } from "../../crypto/expensive-work.js";
import { VaultError } from "../../http/errors.js";
import { ecPem, rsaPem, sshKeyPair } from "./keys.js";
import { CHARSETS, CLASSES, randomHex, randomString, randomWithRequirements, uuidV7, type CharsetName, type Requirement } from "./random.js";

export const GENERATORS = ["random", "hex", "uuid", "template", "rsa_keypair", "ec_keypair", "ssh_keypair", "bcrypt_hash", "static"] as const;
export type GeneratorName = (typeof GENERATORS)[number];

export interface FieldSpec {
  name: string;
  generator: string;
  config?: Record<string, unknown>;
}

/** A field after validation: its config with defaults filled in, and the data keys it writes. */
export interface CheckedField {
  name: string;
  generator: GeneratorName;
  config: Record<string, unknown>;
  outputs: string[];
}

/** Without a secret policy an auto-generated rotation renews `password` (SPEC §6). */
export const DEFAULT_FIELDS: FieldSpec[] = [{ name: "password", generator: "random", config: { length: 32, charset: "alphanumeric" } }];

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
const PLACEHOLDER_FORMS = /^(?:random:(\d{1,4})|hex:(\d{1,4})|uuid|timestamp)$/;
const MAX_LENGTH = 1024;
/**
 * What one recipe's text fields may make together, in characters: a value is at most
 * SCAIVAULT_MAX_SECRET_BYTES (64 KiB by default) anyway. Placeholders were bounded one by one but
 * a template's output was not: 273 × `{{random:1024}}` in 4,096 characters of template made 280,000
 * characters per field, 14 MB for 50 fields (a review: 4 s of the event loop per preview or
 * rotation, refused only afterwards as a secret over 64 KB). Key pairs are not counted (a few KB each).
 */
const MAX_RECIPE_OUTPUT = 65_536;

function bad(field: string, problem: string): VaultError {
  return new VaultError("invalid_config", `Field "${field}": ${problem}`, { details: { field, problem } });
}

type Allowed = Record<string, (value: unknown) => boolean>;
const int = (min: number, max: number) => (v: unknown) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
const oneOf = (...values: unknown[]) => (v: unknown) => values.includes(v);
const bool = (v: unknown) => typeof v === "boolean";
const text = (max: number) => (v: unknown) => typeof v === "string" && v.length <= max;
const OUTPUT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
const outputName = (v: unknown) => typeof v === "string" && OUTPUT_NAME.test(v);

const ALLOWED: Record<GeneratorName, Allowed> = {
  random: { length: int(1, MAX_LENGTH), charset: oneOf(...Object.keys(CHARSETS)), require_upper: bool, require_lower: bool, require_digit: bool, require_symbol: bool },
  hex: { length: int(1, MAX_LENGTH) },
  uuid: { version: oneOf(4, 7) },
  template: { template: text(4096) },
  rsa_keypair: { bits: oneOf(2048, 4096), public_field: outputName },
  ec_keypair: { curve: oneOf("P-256", "P-384"), public_field: outputName },
  ssh_keypair: { key_type: oneOf("ed25519", "rsa"), comment: (v) => typeof v === "string" && v.length <= 256 && !/[\r\n]/.test(v), bits: oneOf(2048, 3072, 4096), public_field: outputName },
  bcrypt_hash: { length: int(8, 128), rounds: int(4, 14), hash_field: outputName },
  static: { value: text(65_536) },
};

const DEFAULTS: Record<GeneratorName, Record<string, unknown>> = {
  random: { length: 32, charset: "alphanumeric" },
  hex: { length: 32 },
  uuid: { version: 4 },
  template: {},
  rsa_keypair: { bits: 2048 },
  ec_keypair: { curve: "P-256" },
  ssh_keypair: { key_type: "ed25519", comment: "" },
  bcrypt_hash: { length: 32, rounds: 10 },
  static: {},
};

/** `private_key` pairs with `public_key`; any other name `x` with `x_public`. */
function publicFieldFor(name: string): string {
  return name.endsWith("private_key") && name !== "public_key" ? name.replace(/private_key$/, "public_key") : `${name}_public`;
}

/** Checks every field's generator and config; problems are `invalid_config` naming the field. */
export function checkFields(fields: readonly FieldSpec[]): CheckedField[] {
  const seen = new Set<string>();
  let output = 0;
  return fields.map((field) => {
    if (!(GENERATORS as readonly string[]).includes(field.generator)) throw bad(field.name, `unknown generator "${field.generator}" (one of ${GENERATORS.join(", ")})`);
    const generator = field.generator as GeneratorName;
    const given = field.config ?? {};
    for (const [key, value] of Object.entries(given)) {
      const check = ALLOWED[generator][key];
      if (!check) throw bad(field.name, `${generator} has no config key "${key}" (allowed: ${Object.keys(ALLOWED[generator]).join(", ")})`);
      if (!check(value)) throw bad(field.name, `config.${key} has an invalid value`);
    }
    const config = { ...DEFAULTS[generator], ...given };
    output += textLength(generator, config, field.name);
    if (output > MAX_RECIPE_OUTPUT) throw bad(field.name, `the fields up to this one make up to ${output} characters; a recipe makes at most ${MAX_RECIPE_OUTPUT}`);
    if (generator === "static" && typeof config.value !== "string") throw bad(field.name, "static needs config.value");
    if (generator === "ssh_keypair" && config.bits !== undefined && config.key_type !== "rsa") throw bad(field.name, "config.bits applies to key_type rsa only");
    if (generator === "random") checkRequirements(field.name, config);
    const outputs = [field.name];
    if (generator.endsWith("_keypair")) outputs.push((config.public_field as string | undefined) ?? publicFieldFor(field.name));
    if (generator === "bcrypt_hash") outputs.push((config.hash_field as string | undefined) ?? `${field.name}_hash`);
    for (const output of outputs) {
      if (seen.has(output)) throw bad(field.name, `the output "${output}" is written by two fields`);
      seen.add(output);
    }
    return { name: field.name, generator, config, outputs };
  });
}

/** The characters a text field makes at most (key pairs: 0, see MAX_RECIPE_OUTPUT); checks a template on the way. */
function textLength(generator: GeneratorName, config: Record<string, unknown>, field: string): number {
  switch (generator) {
    case "random":
    case "hex":
      return config.length as number;
    case "bcrypt_hash":
      return (config.length as number) + 60;
    case "uuid":
      return 36;
    case "template":
      return checkTemplate(field, config.template);
    case "static":
      return typeof config.value === "string" ? config.value.length : 0;
    default:
      return 0;
  }
}

/** The characters a template makes at most: its text with each placeholder at its longest. */
function checkTemplate(field: string, template: unknown): number {
  if (typeof template !== "string" || template === "") throw bad(field, "template needs config.template");
  let output = template.length;
  for (const [whole, inner] of template.matchAll(PLACEHOLDER)) {
    const match = PLACEHOLDER_FORMS.exec(inner.trim());
    if (!match) throw bad(field, `unknown placeholder {{${inner}}} (use {{random:N}}, {{hex:N}}, {{uuid}} or {{timestamp}})`);
    const n = Number(match[1] ?? match[2] ?? 1);
    if (n < 1 || n > MAX_LENGTH) throw bad(field, `placeholder lengths must be 1 to ${MAX_LENGTH}`);
    output += (match[1] || match[2] ? n : inner.trim() === "uuid" ? 36 : 12) - whole.length;
  }
  return output;
}

function requirementsOf(config: Record<string, unknown>): Requirement[] {
  return (Object.keys(CLASSES) as Requirement[]).filter((key) => config[key] === true);
}

function checkRequirements(field: string, config: Record<string, unknown>): void {
  const alphabet = CHARSETS[config.charset as CharsetName];
  const required = requirementsOf(config);
  for (const requirement of required) {
    if (![...alphabet].some(CLASSES[requirement])) throw bad(field, `charset ${String(config.charset)} cannot satisfy ${requirement}`);
  }
  if (required.length > (config.length as number)) throw bad(field, "length is shorter than the number of required character classes");
}

function fillTemplate(template: string, now: number): string {
  return template.replace(PLACEHOLDER, (_, inner: string) => {
    const match = PLACEHOLDER_FORMS.exec(inner.trim()) as RegExpExecArray;
    if (match[1]) return randomString(Number(match[1]), CHARSETS.alphanumeric);
    if (match[2]) return randomHex(Number(match[2]));
    return inner.trim() === "uuid" ? randomUUID() : String(Math.floor(now / 1000));
  });
}

/**
 * Runs every field's generator: values come from `node:crypto`'s CSPRNG only. RSA key pairs and
 * bcrypt hashes go through `expensive` (the tenant's turn at the node's generation gate; bcrypt on
 * its worker thread); EC and ed25519 keys take a fraction of a millisecond and need no turn.
 */
export async function generate(fields: readonly CheckedField[], expensive: TenantGeneration, now = Date.now()): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const { name, generator, config, outputs } of fields) {
    switch (generator) {
      case "random":
        out[name] = randomWithRequirements(config.length as number, CHARSETS[config.charset as CharsetName], requirementsOf(config));
        break;
      case "hex":
        out[name] = randomHex(config.length as number);
        break;
      case "uuid":
        out[name] = config.version === 7 ? uuidV7(now) : randomUUID();
        break;
      case "template":
        out[name] = fillTemplate(config.template as string, now);
        break;
      case "static":
        out[name] = config.value as string;
        break;
      case "bcrypt_hash": {
        const password = randomString(config.length as number, CHARSETS.alphanumeric);
        const rounds = config.rounds as number;
        const salt = `$2b$${String(rounds).padStart(2, "0")}$${bcrypt.encodeBase64(randomBytes(16), 16)}`;
        out[name] = password;
        out[outputs[1]] = await expensive.bcrypt(password, salt);
        break;
      }
      default: {
        const pair =
          generator === "rsa_keypair"
            ? await expensive.inTurn(() => rsaPem(config.bits as number))
            : generator === "ec_keypair"
              ? await ecPem(config.curve as "P-256" | "P-384")
              : config.key_type === "rsa"
                ? await expensive.inTurn(() => sshKeyPair("rsa", config.comment as string, (config.bits as number | undefined) ?? 3072))
                : await sshKeyPair("ed25519", config.comment as string, 0);
        out[name] = pair.privateKey;
        out[outputs[1]] = pair.publicKey;
      }
    }
  }
  return out;
}
