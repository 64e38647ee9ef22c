import { readFileSync } from "node:fs";
import { UsageError } from "../args.js";
import { printObject, printTable, show } from "../output.js";
import type { Ctx } from "./context.js";

export const MANAGE_HELP = `scaivault policies list [--limit N] [--cursor C] | get <id> | create --file F | update <id> --file F | delete <id> [--force]
                   bindings <id> | bind <id> --identity ID [--identity-type T] [--expires-at TS] | unbind <id> <binding_id>
                   test --identity ID --path P [--permission read]
scaivault rotation list [--limit N] [--cursor C] | get <id> | create --name N --interval 90d [--grace-period 48h] [--warn-before 7d] [--auto-generate] [--description D] | create --file F
                   delete <id> | enable <id> | disable <id> | assign <id> <path> | unassign <id> <path>
                   rotate <id> [path...] | history <id> [--status S] [--limit N] | due [--within-hours N]
scaivault webhooks list | get <id> | create --name N --url U --secret S [--events a,b] [--scheme body|timestamped] | create --file F
                   delete <id> | test <id> | deliveries <id> [--status S] [--limit N] | redeliver <id> <delivery_id>
scaivault subscriptions list | get <id> | create --file F | delete <id> | poll <id> [--timeout N] [--max-events N] | ack <id> <event_id>...
scaivault audit logs [--path-prefix P] [--action A] [--identity ID] [--success true|false] [--from TS] [--to TS] [--request-id R] [--limit N] [--cursor C]
                   verify | summary [--from TS] [--to TS]
                   export --destination DIR [--format jsonl|csv] [--from TS] [--to TS] [--path-prefix P] [--action A] [--identity ID]
                   exports [list] [--limit N] [--cursor C] | exports get <export_id>
scaivault secret-policies list [--limit N] [--cursor C] | get <id> | delete <id> | preview <id>
                   create --json-file F | create --file F | create --name N --field NAME:GENERATOR... [--type T] [--description D]
scaivault tenants list [--limit N] [--cursor C] | create [--id ID] --name N
scaivault tokens list [--kind K] | create [--identity ID] [--identity-type T] [--scopes a,b] [--expires-in 90d] [--description D] | revoke <id>`;

/** `--file F` (or `-` for stdin; secret-policies also take `--json-file F`) as a JSON object. */
function bodyFromFile(ctx: Ctx, file = ctx.args.flag("file")): Record<string, unknown> | undefined {
  return file === undefined ? undefined : readJsonObject(file);
}

/** A JSON object from a file (`-`: standard input), or a usage error saying what is wrong with it. */
export function readJsonObject(file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file === "-" ? 0 : file, "utf8"));
  } catch {
    throw new UsageError(`${file} is not valid JSON`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new UsageError(`${file} must hold a JSON object`);
  return parsed as Record<string, unknown>;
}

function need(body: Record<string, unknown> | undefined, what: string): Record<string, unknown> {
  if (!body) throw new UsageError(`${what}: give --file F (a JSON object)`);
  return body;
}

/** `sa:x` → service_account, `group:x` → group, else user. */
function identityType(id: string, given?: string): string {
  if (given) return given;
  if (id.startsWith("sa:")) return "service_account";
  if (id.startsWith("group:")) return "group";
  return "user";
}

/** `--field name:generator` (repeated or comma-separated) as secret-policy fields. */
function policyFields(specs: string[] | undefined): { name: string; generator: string }[] | undefined {
  return specs?.map((spec) => {
    const colon = spec.indexOf(":");
    if (colon <= 0 || colon === spec.length - 1) throw new UsageError(`--field must be NAME:GENERATOR, got "${spec}"`);
    return { name: spec.slice(0, colon), generator: spec.slice(colon + 1) };
  });
}

type Row = Record<string, unknown>;
const rows = (value: unknown) => value as Row[];

export async function manageCommand(ctx: Ctx, group: string, sub: string | undefined): Promise<void> {
  const { args, out } = ctx;
  const id = () => args.positional(2, "id");
  const c = () => ctx.client();
  const one = (value: Row) => show(out, value, () => printObject(value));
  const done = (value: unknown, text: string) => show(out, value ?? { ok: true }, () => process.stdout.write(text + "\n"));
  const key = `${group} ${sub ?? ""}`.trim();
  switch (key) {
    case "policies list": {
      const page = await c().policies.list({ limit: args.int("limit"), cursor: args.flag("cursor") });
      return show(out, page, () => printTable(rows(page.data), ["id", "name", "scope", "description"]));
    }
    case "policies get": return one(await c().policies.retrieve(id()));
    case "policies create": return one(await c().policies.create(need(bodyFromFile(ctx), "policies create") as never));
    case "policies update": return one(await c().policies.update(id(), need(bodyFromFile(ctx), "policies update") as never));
    case "policies delete": return done(await c().policies.delete(id(), { force: args.bool("force") }), `deleted ${id()}`);
    case "policies bindings": {
      const page = await c().policies.listBindings(id());
      return show(out, page, () => printTable(rows(page.data), ["id", "identity_type", "identity_id", "expires_at"]));
    }
    case "policies bind": {
      const identity = args.flag("identity");
      if (!identity) throw new UsageError("--identity is required (e.g. sa:reporting-service)");
      return one(await c().policies.bind(id(), { identity_id: identity, identity_type: identityType(identity, args.flag("identity-type")) as never, ...(args.flag("expires-at") ? { expires_at: args.flag("expires-at") } : {}) }));
    }
    case "policies unbind": return done(await c().policies.unbind(id(), args.positional(3, "binding id")), "unbound");
    case "policies test": {
      const [identity, path, permission] = [args.flag("identity"), args.flag("path"), args.flag("permission") ?? "read"];
      if (!identity || !path) throw new UsageError("--identity and --path are required");
      return one(await c().policies.test({ identity_id: identity, path, permission }));
    }
    case "rotation list": {
      const page = await c().rotation.listPolicies({ limit: args.int("limit"), cursor: args.flag("cursor") });
      return show(out, page, () => printTable(rows(page.data), ["id", "name", "interval", "grace_period", "auto_generate", "is_active", "secrets_count"]));
    }
    case "rotation get": return one(await c().rotation.getPolicy(id()));
    case "rotation create": {
      const body = bodyFromFile(ctx) ?? {
        name: args.flag("name"),
        interval: args.flag("interval"),
        ...(args.flag("grace-period") ? { grace_period: args.flag("grace-period") } : {}),
        ...(args.flag("warn-before") ? { warn_before: args.flag("warn-before") } : {}),
        ...(args.has("auto-generate") ? { auto_generate: args.bool("auto-generate") } : {}),
        ...(args.flag("description") ? { description: args.flag("description") } : {}),
      };
      if (!body.name || !body.interval) throw new UsageError("--name and --interval are required (or --file F)");
      return one(await c().rotation.createPolicy(body as never));
    }
    case "rotation delete": return done(await c().rotation.deletePolicy(id()), `deleted ${id()}`);
    case "rotation enable": return one(await c().rotation.enable(id()));
    case "rotation disable": return one(await c().rotation.disable(id()));
    case "rotation assign": return one(await c().rotation.assign(id(), args.positional(3, "secret path")));
    case "rotation unassign": return done(await c().rotation.unassign(id(), args.positional(3, "secret path")), "unassigned");
    case "rotation rotate": {
      const paths = args.positionals.slice(3);
      return show(out, await c().rotation.rotate(id(), paths.length ? paths : undefined), () => process.stdout.write(`rotation started for ${id()}\n`));
    }
    case "rotation history": {
      const page = await c().rotation.history(id(), { status: args.flag("status"), limit: args.int("limit") });
      return show(out, page, () => printTable(rows(page.data), ["id", "secret_path", "status", "started_at", "completed_at"]));
    }
    case "rotation due": {
      const answer = await c().rotation.due({ within_hours: args.int("within-hours") });
      return show(out, answer, () => printTable(rows(answer.data ?? answer.secrets ?? []), ["secret_path", "rotation_policy_id", "due_at", "state"]));
    }
    case "webhooks list": {
      const page = await c().webhooks.list();
      return show(out, page, () => printTable(rows(page.data), ["id", "name", "url", "events", "enabled", "signature_scheme"]));
    }
    case "webhooks get": return one(await c().webhooks.retrieve(id()));
    case "webhooks create": {
      const body = bodyFromFile(ctx) ?? {
        name: args.flag("name"),
        url: args.flag("url"),
        secret: args.flag("secret") === "-" ? readFileSync(0, "utf8").trim() : args.flag("secret"),
        ...(args.list("events") ? { events: args.list("events") } : {}),
        ...(args.flag("scheme") ? { signature_scheme: args.flag("scheme") } : {}),
      };
      if (!body.name || !body.url) throw new UsageError("--name and --url are required (or --file F)");
      return one(await c().webhooks.create(body as never));
    }
    case "webhooks delete": return done(await c().webhooks.delete(id()), `deleted ${id()}`);
    case "webhooks test": return one(await c().webhooks.test(id()));
    case "webhooks deliveries": {
      const page = await c().webhooks.deliveries(id(), { status: args.flag("status"), limit: args.int("limit") });
      return show(out, page, () => printTable(rows(page.data), ["id", "event_id", "event_type", "status", "attempts", "response_status"]));
    }
    case "webhooks redeliver": return one(await c().webhooks.redeliver(id(), args.positional(3, "delivery id")));
    case "subscriptions list": {
      const page = await c().subscriptions.list();
      return show(out, page, () => printTable(rows(page.data), ["id", "name", "paths", "events"]));
    }
    case "subscriptions get": return one(await c().subscriptions.retrieve(id()));
    case "subscriptions create": return one(await c().subscriptions.create(need(bodyFromFile(ctx), "subscriptions create") as never));
    case "subscriptions delete": return done(await c().subscriptions.delete(id()), `deleted ${id()}`);
    case "subscriptions poll": {
      const answer = await c().subscriptions.poll(id(), { timeout: args.int("timeout") ?? 0, max_events: args.int("max-events") });
      return show(out, answer, () => printTable(rows(answer.events), ["event_id", "event_type", "path", "timestamp"]));
    }
    case "subscriptions ack": return one(await c().subscriptions.ack(id(), args.positionals.slice(3)));
    case "audit logs": {
      const page = await c().audit.logs({
        path_prefix: args.flag("path-prefix"), action: args.flag("action"), identity_id: args.flag("identity"), success: args.has("success") ? args.bool("success") : undefined,
        from: args.flag("from"), to: args.flag("to"), request_id: args.flag("request-id"), limit: args.int("limit"), cursor: args.flag("cursor"),
      });
      if (out.json) return show(out, { logs: page.data, cursor: page.cursor, has_more: page.hasMore }, () => {});
      return printTable(rows(page.data), ["timestamp", "action", "identity_id", "secret_path", "success", "request_id"]);
    }
    case "audit verify": {
      const result = await c().audit.verify();
      show(out, result, () => process.stdout.write(result.ok ? `ok: ${result.entries} entries verified\n` : `TAMPERED: first bad entry ${result.first_bad_entry} (${result.reason})\n`));
      if (!result.ok) process.exitCode = 1;
      return;
    }
    case "audit summary": return one(await c().audit.summary({ from: args.flag("from"), to: args.flag("to") }));
    case "audit export": {
      const destination = args.flag("destination");
      if (!destination) throw new UsageError("--destination DIR is required (a directory under the server's SCAIVAULT_AUDIT_EXPORT_DIR)");
      const format = args.flag("format") ?? "jsonl";
      if (format !== "jsonl" && format !== "csv") throw new UsageError("--format must be jsonl or csv");
      const filters = {
        ...(args.flag("path-prefix") ? { path_prefix: args.flag("path-prefix") } : {}),
        ...(args.flag("action") ? { action: args.flag("action") } : {}),
        ...(args.flag("identity") ? { identity_id: args.flag("identity") } : {}),
      };
      const created = await c().audit.export({
        format, destination: { type: "file", path: destination },
        ...(args.flag("from") ? { from: args.flag("from") } : {}),
        ...(args.flag("to") ? { to: args.flag("to") } : {}),
        ...(Object.keys(filters).length ? { filters } : {}),
      } as never);
      return show(out, created, () => process.stdout.write(`export ${String(created.export_id)} ${String(created.status)} (about ${String(created.estimated_records)} records)\n`));
    }
    case "audit exports": {
      const action = args.positionals[2] ?? "list";
      if (action === "get") return one(await c().audit.getExport(args.positional(3, "export id")));
      if (action !== "list") throw new UsageError("scaivault audit exports [list] | exports get <export_id>");
      const page = await c().audit.exports({ limit: args.int("limit"), cursor: args.flag("cursor") });
      return show(out, page, () => printTable(rows(page.data), ["export_id", "status", "format", "record_count", "destination", "created_at"]));
    }
    case "secret-policies list": {
      const page = await c().secretPolicies.list({ limit: args.int("limit"), cursor: args.flag("cursor") });
      return show(out, page, () => printTable(rows(page.data).map((p) => ({ ...p, fields: (p.fields as { name: string; generator: string }[]).map((f) => `${f.name}:${f.generator}`) })), ["id", "name", "policy_type", "fields", "is_active"]));
    }
    case "secret-policies get": return one(await c().secretPolicies.retrieve(id()));
    case "secret-policies create": {
      const file = args.flag("json-file") ?? args.flag("file");
      const fields = policyFields(args.list("field"));
      if (file !== undefined && (fields || args.has("name"))) throw new UsageError("give --json-file or --name/--field flags, not both");
      const body = file !== undefined ? bodyFromFile(ctx, file)! : {
        name: args.flag("name"),
        fields,
        ...(args.flag("type") ? { policy_type: args.flag("type") } : {}),
        ...(args.flag("description") ? { description: args.flag("description") } : {}),
      };
      if (!body.name || !body.fields) throw new UsageError("--name and --field NAME:GENERATOR are required (or --json-file F)");
      return one(await c().secretPolicies.create(body as never));
    }
    case "secret-policies delete": return done(await c().secretPolicies.delete(id()), `deleted ${id()}`);
    case "secret-policies preview": {
      const preview = await c().secretPolicies.preview(id());
      return show(out, preview, () => printTable(Object.entries((preview.data ?? {}) as Row).map(([field, value]) => ({ field, value })), ["field", "value"]));
    }
    case "tenants list": {
      const page = await c().tenants.list({ limit: args.int("limit"), cursor: args.flag("cursor") });
      return show(out, page, () => printTable(rows(page.data), ["id", "name", "partner_id", "status", "created_at"]));
    }
    case "tenants create": {
      const name = args.flag("name");
      if (!name) throw new UsageError("--name is required");
      return one(await c().tenants.create({ name, ...(args.flag("id") ? { id: args.flag("id") } : {}) }));
    }
    case "tokens list": {
      const page = await c().tokens.list(args.flag("kind") ? { kind: args.flag("kind") } : undefined);
      return show(out, page, () => printTable(rows(page.data), ["id", "kind", "identity_id", "scopes", "expires_at", "description"]));
    }
    case "tokens create": {
      // Without --identity: a personal token for the caller's own user identity (no admin needed).
      const identity = args.flag("identity");
      const created = await c().tokens.create({
        ...(identity ? { identity_id: identity, identity_type: identityType(identity, args.flag("identity-type")) } : {}),
        ...(args.list("scopes") ? { scopes: args.list("scopes") } : {}),
        ...(args.flag("expires-in") ? { expires_in: args.flag("expires-in") } : {}),
        ...(args.flag("description") ? { description: args.flag("description") } : {}),
      });
      // The token is shown once: on stdout only, never in a log.
      return show(out, created, () => process.stdout.write(`${created.id}  expires ${String(created.expires_at)}\ntoken (shown once): ${created.token}\n`));
    }
    case "tokens revoke": return done(await c().tokens.revoke(id()), `revoked ${id()}`);
    default:
      throw new UsageError(`unknown command "${key}"\n${MANAGE_HELP}`);
  }
}
