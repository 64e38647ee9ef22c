import type { TenantGeneration } from "../crypto/expensive-work.js";
import { VaultError } from "../http/errors.js";
import type { SecretRow } from "../secrets/store.js";
import type { Queryable } from "../storage/contract.js";
import { checkFields, DEFAULT_FIELDS, generate, type CheckedField, type FieldSpec } from "./generators/index.js";
import type { PolicyRowStore, RotationPolicyRow } from "./policy-store.js";

/** Generators that wait on the thread pool or yield the event loop (key pairs, bcrypt). */
const WAITING: ReadonlySet<string> = new Set(["rsa_keypair", "ec_keypair", "ssh_keypair", "bcrypt_hash"]);

/** The recipe an auto-generated rotation uses: its identity (id and fields as stored) and its checked fields. */
export interface Recipe {
  key: string;
  fields: CheckedField[];
}

/**
 * Values of auto-generated rotations, generated before the rotation's transaction opens. A key
 * pair or a bcrypt hash takes milliseconds to seconds (RSA-4096 0.4–2.6 s; bcrypt at 14 rounds
 * 1.1 s per field, in 100 ms slices of the event loop): generated inside the transaction they held
 * the secret's row lock and the transaction that long — on SQLite the file's one writer, so every
 * write of every tenant waited, and the development guard refused the rotation. The transaction
 * takes a set made for the recipe it reads (same id, same fields); a recipe changed meanwhile is
 * generated in place only if nothing in it waits.
 */
export class PreparedValues {
  private readonly ready = new Map<string, Array<Record<string, string>>>();

  private constructor(private readonly expensive: TenantGeneration) {}

  /** One set of values per recipe listed (a recipe listed twice gets two sets: each secret its own), made in the tenant's turns. */
  static async forRecipes(recipes: readonly Recipe[], expensive: TenantGeneration, now = Date.now()): Promise<PreparedValues> {
    const prepared = new PreparedValues(expensive);
    for (const recipe of recipes) {
      if (!waits(recipe.fields)) continue;
      const sets = prepared.ready.get(recipe.key) ?? [];
      sets.push(await generate(recipe.fields, expensive, now));
      prepared.ready.set(recipe.key, sets);
    }
    return prepared;
  }

  /** A set made for this recipe (used once), or, for a recipe that waits on nothing, one made now. */
  async take(recipe: Recipe, now: number): Promise<Record<string, string> | undefined> {
    const made = this.ready.get(recipe.key)?.shift();
    if (made) return made;
    return waits(recipe.fields) ? undefined : generate(recipe.fields, this.expensive, now);
  }
}

const waits = (fields: readonly CheckedField[]) => fields.some((field) => WAITING.has(field.generator));

/** The recipes of auto-generated rotations, read as the rotation's transaction will read them. */
export class Recipes {
  constructor(private readonly policies: PolicyRowStore) {}

  /** The recipe an auto-generated rotation of `secret` under `policy` uses (its own, the policy's, or the default). */
  async recipeOf(secret: SecretRow, policy: RotationPolicyRow, tx?: Queryable): Promise<Recipe> {
    const recipeId = secret.secret_policy_id ?? policy.secret_policy_id;
    if (!recipeId) return { key: "default", fields: checkFields(DEFAULT_FIELDS) };
    const recipe = await this.policies.getSecretPolicy(secret.tenant_id, recipeId, tx);
    if (!recipe) throw new VaultError("secret_policy_not_found", `Secret policy ${recipeId} does not exist`, { details: { secret_policy_id: recipeId } });
    if (recipe.is_active !== 1) throw new VaultError("invalid_config", `Secret policy ${recipeId} is disabled`, { details: { secret_policy_id: recipeId } });
    return { key: `${recipeId}\u0000${recipe.fields}`, fields: checkFields(JSON.parse(recipe.fields) as FieldSpec[]) };
  }

  /** Values for the targets' recipes; a target whose recipe cannot be read is left to its transaction, which records why. */
  async prepare(expensive: TenantGeneration, targets: ReadonlyArray<{ secret: SecretRow | undefined; policy: RotationPolicyRow | undefined }>): Promise<PreparedValues> {
    const recipes: Recipe[] = [];
    for (const { secret, policy } of targets) {
      if (!secret || !policy || policy.auto_generate !== 1) continue;
      const recipe = await this.recipeOf(secret, policy).catch(() => null);
      if (recipe) recipes.push(recipe);
    }
    return PreparedValues.forRecipes(recipes, expensive);
  }
}
