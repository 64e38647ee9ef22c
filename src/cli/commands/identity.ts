import { UsageError } from "../args.js";
import { printObject, printTable, show } from "../output.js";
import type { Ctx } from "./context.js";
import { readJsonObject } from "./manage.js";

// identity domain (spec/identity.md §3, §4): the directory cache, syncs and roles; exchange trusts.
export const IDENTITY_HELP = `scaivault identity partners [--status S] | users <tenant_id> [--status S] [--q TEXT] | groups <tenant_id> [--status S] [--q TEXT]
                   service-accounts <tenant_id> | members <group_id> | resolve <user|service_account|group> <id>
                   sync [--tenant-id T] [--partner-id P] [--wait] | sync-status <sync_id> | sync-history [--status S] [--limit N]
                   roles | user-roles <user_id> [--set r1,r2]
scaivault trusts list | get <id> | create --file F | update <id> --file F | enable <id> | disable <id> | delete <id>`;

export const IDENTITY_EXAMPLES: Record<string, string[]> = {
  partners: ["scaivault identity partners", "scaivault identity partners --status ACTIVE -o json"],
  users: ["scaivault identity users tnt_acme --q alice"],
  groups: ["scaivault identity groups tnt_acme"],
  "service-accounts": ["scaivault identity service-accounts tnt_acme"],
  members: ["scaivault identity members grp_sre"],
  resolve: ["scaivault identity resolve user alice@acme.example", "scaivault identity resolve service_account ci-bot -o json"],
  sync: ["scaivault identity sync --wait", "scaivault identity sync --tenant-id tnt_acme"],
  "sync-status": ["scaivault identity sync-status sync_123"],
  "sync-history": ["scaivault identity sync-history --limit 5"],
  roles: ["scaivault identity roles"],
  "user-roles": ["scaivault identity user-roles usr_bob", "scaivault identity user-roles usr_bob --set tenant_admin"],
};

export const TRUSTS_EXAMPLES: Record<string, string[]> = {
  list: ["scaivault trusts list"],
  get: ["scaivault trusts get trust_123"],
  create: ["scaivault trusts create --file github-trust.json"],
  update: ["scaivault trusts update trust_123 --file patch.json"],
  enable: ["scaivault trusts enable trust_123"],
  disable: ["scaivault trusts disable trust_123"],
  delete: ["scaivault trusts delete trust_123"],
};

type Row = Record<string, unknown>;
const rows = (value: unknown) => value as Row[];
const SYNC_COLUMNS = ["sync_id", "status", "trigger", "triggered_by", "started_at", "duration_ms"];

function jsonFile(file: string | undefined, what: string): Row {
  if (!file) throw new UsageError(`${what}: give --file F (a JSON object, - for stdin)`);
  return readJsonObject(file) as Row;
}

/** `scaivault identity …`: what the vault knows of ScaiKey's directory. */
export async function identityCommand(ctx: Ctx, sub: string | undefined): Promise<void> {
  const { args, out } = ctx;
  const c = () => ctx.client().identity;
  const one = (value: Row) => show(out, value, () => printObject(value));
  const filters = () => ({ status: args.flag("status"), q: args.flag("q") });
  switch (sub) {
    case "partners": {
      const page = await c().partners({ status: args.flag("status") });
      return show(out, page, () => printTable(page.partners, ["id", "name", "slug", "region", "status", "last_synced_at"]));
    }
    case "users": {
      const page = await c().users(args.positional(2, "tenant id"), filters());
      return show(out, page, () => printTable(page.users, ["id", "identity_id", "display_name", "status", "groups", "roles"]));
    }
    case "groups": {
      const page = await c().groups(args.positional(2, "tenant id"), filters());
      return show(out, page, () => printTable(page.groups, ["id", "identity_id", "status", "member_count", "description"]));
    }
    case "service-accounts": {
      const page = await c().serviceAccounts(args.positional(2, "tenant id"));
      return show(out, page, () => printTable(page.service_accounts, ["id", "identity_id", "name", "status", "groups"]));
    }
    case "members": {
      const page = await c().groupMembers(args.positional(2, "group id"));
      return show(out, page, () => printTable(page.members, ["identity_id", "member_type", "membership_type", "via_group_id"]));
    }
    case "resolve": {
      const type = args.positional(2, "identity type");
      if (type !== "user" && type !== "service_account" && type !== "group") throw new UsageError("identity type must be user, service_account or group");
      return one(await c().resolve(type, args.positional(3, "identity id")));
    }
    case "sync": {
      let sync: Row = await c().sync({ tenant_id: args.flag("tenant-id"), partner_id: args.flag("partner-id") });
      // --wait polls the sync's own record (a sync runs in the background) until it ends.
      while (args.bool("wait") && sync.status !== "completed" && sync.status !== "failed") {
        await new Promise((resolve) => setTimeout(resolve, 250));
        sync = await c().getSync(String(sync.sync_id));
      }
      return one(sync);
    }
    case "sync-status": return one(await c().getSync(args.positional(2, "sync id")));
    case "sync-history": {
      const page = await c().syncHistory({ status: args.flag("status"), limit: args.int("limit") });
      return show(out, page, () => printTable(page.syncs, SYNC_COLUMNS));
    }
    case "roles": {
      const list = await c().roles();
      return show(out, list, () => printTable(list.roles, ["name", "scope", "description"]));
    }
    case "user-roles": {
      const user = args.positional(2, "user id");
      const roles = args.list("set");
      return one(roles ? await c().setUserRoles(user, roles) : await c().userRoles(user));
    }
    default:
      throw new UsageError(IDENTITY_HELP);
  }
}

/** `scaivault trusts …`: which foreign issuers' tokens `auth login --exchange` may trade. */
export async function trustsCommand(ctx: Ctx, sub: string | undefined): Promise<void> {
  const { args, out } = ctx;
  const c = () => ctx.client().trusts;
  const id = () => args.positional(2, "trust id");
  const one = (value: Row) => show(out, value, () => printObject(value));
  switch (sub) {
    case "list": {
      const page = await c().list({ limit: args.int("limit"), cursor: args.flag("cursor") });
      return show(out, page, () => printTable(rows(page.data), ["id", "name", "issuer", "enabled", "max_ttl"]));
    }
    case "get": return one(await c().get(id()));
    case "create": return one(await c().create(jsonFile(args.flag("file"), "trusts create")));
    case "update": return one(await c().update(id(), jsonFile(args.flag("file"), "trusts update")));
    case "enable": return one(await c().update(id(), { enabled: true }));
    case "disable": return one(await c().update(id(), { enabled: false }));
    case "delete": return one(await c().delete(id()));
    default:
      throw new UsageError(IDENTITY_HELP);
  }
}
