import { ACTION_WORDS } from "../secrets/paths.js";

const SECRET_BASES = ["/v1/secrets/", "/v1/partner/secrets/"];

/**
 * A find-my-way constraint that tells `/v1/secrets/a/b/versions` from `/v1/secrets/a/b`: secret
 * paths contain slashes, so one wildcard route per method serves them and this picks the handler
 * by the trailing action word (`none` for a plain path).
 */
export const secretActionConstraint = {
  name: "secretAction",
  mustMatchWhenDerived: true,
  validate(value: unknown): void {
    if (value !== "none" && !(ACTION_WORDS as readonly unknown[]).includes(value)) throw new Error(`unknown secret action ${String(value)}`);
  },
  storage() {
    const handlers = new Map<string, unknown>();
    return {
      get: (value: string) => (handlers.get(value) ?? null) as never,
      set: (value: string, store: unknown) => void handlers.set(value, store),
    };
  },
  deriveConstraint(req: { url?: string }): string | undefined {
    const pathname = (req.url ?? "").split("?")[0];
    if (!SECRET_BASES.some((base) => pathname.startsWith(base))) return undefined;
    const last = pathname.slice(pathname.lastIndexOf("/") + 1);
    return (ACTION_WORDS as readonly string[]).includes(last) ? last : "none";
  },
};
