import { readFileSync } from "node:fs";
import { UsageError } from "../args.js";
import { printObject, printTable, show } from "../output.js";
import type { Ctx } from "./context.js";

export const DNS_HELP = `scaivault dns providers list | providers get <id> | providers delete <id> | providers test <id>
                   providers create --name N --server host:port --zones a.example,*.a.example [--tsig-key-name K --tsig-secret-file F] [--tsig-algorithm hmac-sha256|hmac-sha512|hmac-sha1] [--ttl 60] [--verify]`;

const COLUMNS = ["id", "name", "provider_type", "managed_zones", "is_active", "created_at"];
type Provider = Record<string, unknown> & { id: string; name: string };

/** `scaivault dns providers …`: DNS providers for ACME dns-01 (spec/pki.md P7); the TSIG secret is read from a file, never from the command line. */
export async function dnsCommand(ctx: Ctx, sub: string | undefined): Promise<void> {
  const { args, out } = ctx;
  if (sub !== "providers") throw new UsageError(`unknown dns command "${sub ?? ""}"; see scaivault --help`);
  const action = args.positional(2, "providers command (list, get, create, test, delete)");
  const call = <T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown) => ctx.client().request<T>({ method, path, body });
  const base = "/v1/dns/providers";
  switch (action) {
    case "list": {
      const list = await call<{ data: Provider[] }>("GET", base);
      return show(out, list, () => printTable(list.data.map((p) => ({ ...p, managed_zones: (p.managed_zones as string[]).join(",") })), COLUMNS));
    }
    case "get": {
      const provider = await call<Provider>("GET", `${base}/${encodeURIComponent(args.positional(3, "provider id"))}`);
      return show(out, provider, () => printObject(provider));
    }
    case "test": {
      const result = await call<{ ok: boolean; zones: { zone: string; ok: boolean; error?: string }[] }>("POST", `${base}/${encodeURIComponent(args.positional(3, "provider id"))}/test`);
      return show(out, result, () => {
        for (const z of result.zones) process.stdout.write(`${z.zone}: ${z.ok ? "ok" : `FAILED ${z.error ?? ""}`}\n`);
        if (!result.ok) process.exitCode = 1;
      });
    }
    case "delete": {
      const id = args.positional(3, "provider id");
      await call("DELETE", `${base}/${encodeURIComponent(id)}`);
      return show(out, { deleted: id }, () => process.stdout.write(`deleted DNS provider ${id}\n`));
    }
    case "create": {
      const name = args.flag("name");
      const server = args.flag("server");
      const zones = args.list("zones");
      if (!name || !server || !zones?.length) throw new UsageError("dns providers create needs --name, --server and --zones");
      const keyName = args.flag("tsig-key-name");
      const secretFile = args.flag("tsig-secret-file");
      if (Boolean(keyName) !== Boolean(secretFile)) throw new UsageError("--tsig-key-name and --tsig-secret-file go together");
      const config: Record<string, unknown> = { server };
      if (keyName) config.tsig_key_name = keyName;
      if (args.flag("tsig-algorithm")) config.tsig_algorithm = args.flag("tsig-algorithm");
      if (args.int("ttl") !== undefined) config.ttl = args.int("ttl");
      const credentials = secretFile ? { tsig_secret: readFileSync(secretFile, "utf8").trim() } : {};
      const provider = await call<Provider>("POST", base, { name, provider_type: "rfc2136", config, credentials, managed_zones: zones, verify: args.has("verify") });
      return show(out, provider, () => process.stdout.write(`created DNS provider ${provider.id} (${provider.name})\n`));
    }
    default:
      throw new UsageError(`unknown dns providers command "${action}"; see scaivault --help`);
  }
}
