import { readFileSync } from "node:fs";
import { UsageError } from "../args.js";
import { printObject, printTable, show } from "../output.js";
import type { Ctx } from "./context.js";

export const DYNAMIC_HELP = `scaivault dynamic creds <engine> <role> [--ttl 1h] [--public-key-file F --principal P...] (ssh)
                   lease <lease_id> | leases [--engine E] [--role R] [--state S] | renew <lease_id> [--increment 1h]
                   revoke <lease_id> | revoke-prefix <engine>[/<role>] | engines | rotate-root <engine>`;

type Row = Record<string, unknown>;
const LEASE_COLUMNS = ["lease_id", "engine", "role", "state", "username", "expires_at", "revoke_attempts"];

/** `scaivault dynamic …`: credentials on demand and their leases (spec/dynamic.md). */
export async function dynamicCommand(ctx: Ctx, sub: string | undefined): Promise<void> {
  const { args, out } = ctx;
  const c = () => ctx.client().dynamic;
  const one = (value: Row) => show(out, value, () => printObject(value));
  switch (sub) {
    case "creds": {
      const file = args.flag("public-key-file");
      const lease = await c().creds(args.positional(2, "engine"), args.positional(3, "role"), {
        ttl: args.flag("ttl"),
        publicKey: file ? readFileSync(file === "-" ? 0 : file, "utf8") : undefined,
        validPrincipals: args.list("principal"),
      });
      // The credential is shown once: printed with the lease so a script can take either.
      return show(out, lease, () => printObject({ lease_id: lease.lease_id, expires_at: lease.expires_at, lease_duration: lease.lease_duration, ...lease.data }));
    }
    case "lease": return one((await c().lease(args.positional(2, "lease id"))) as unknown as Row);
    case "leases": {
      const page = await c().leases({ engine: args.flag("engine"), role: args.flag("role"), state: args.flag("state"), limit: args.int("limit"), cursor: args.flag("cursor") });
      return show(out, page, () => printTable(page.data as unknown as Row[], LEASE_COLUMNS));
    }
    case "renew": return one((await c().renew(args.positional(2, "lease id"), { increment: args.flag("increment") })) as unknown as Row);
    case "revoke": return one((await c().revoke(args.positional(2, "lease id"))) as unknown as Row);
    case "revoke-prefix": return one(await c().revokePrefix(args.positional(2, "prefix")));
    case "engines": {
      const engines = await c().listEngines();
      return show(out, engines, () => printTable(engines.data, ["name", "type", "status", "leases_active", "identity_id"]));
    }
    case "rotate-root": return one(await c().rotateRoot(args.positional(2, "engine")));
    default:
      throw new UsageError(DYNAMIC_HELP);
  }
}
