import { writeFileSync } from "node:fs";
import { UsageError } from "../args.js";
import { printObject, printTable, show } from "../output.js";
import type { Ctx } from "./context.js";

export const PKI_HELP = `scaivault pki ca create --name N --common-name CN [--type root|intermediate] [--parent CA_ID] [--key-type rsa|ec] [--key-size N] [--validity-days N]
                   ca list | ca get <id> | ca revoke <id> [--reason R]
                   issue <role> --common-name CN [--alt-names a,b] [--ip-sans x,y] [--ttl 24h] [--cert-out F] [--key-out F]
                   revoke <certificate id|serial> [--reason R]
                   acme account create --name N --provider letsencrypt|zerossl|buypass|google|custom [--environment production|staging] [--email E] [--directory-url URL]
                   acme account list
                   acme order create --account ACME_ID --domains a,b [--challenge http-01|dns-01] [--dns-provider ID] [--key-type ec|rsa] [--secret-path P] [--renew-before 30d] [--no-auto-renew]
                   acme order get <order id>`;

const CA_COLUMNS = ["id", "name", "ca_type", "key_type", "key_size", "valid_until", "is_active"];

/** `scaivault pki …`: the common flows (create a CA, issue, revoke) through the SDK. */
export async function pkiCommand(ctx: Ctx, sub: string | undefined): Promise<void> {
  const { args, out } = ctx;
  switch (sub) {
    case "ca": {
      const action = args.positional(2, "ca command (create, list, get, revoke)");
      if (action === "list") {
        const cas = await ctx.client().pki.listCas();
        return show(out, { data: cas }, () => printTable(cas as never, CA_COLUMNS));
      }
      if (action === "get") {
        const ca = await ctx.client().pki.getCa(args.positional(3, "CA id"));
        return show(out, ca, () => printObject(ca as never));
      }
      if (action === "revoke") {
        const ca = await ctx.client().pki.revokeCa(args.positional(3, "CA id"), args.flag("reason"));
        return show(out, ca, () => process.stdout.write(`revoked CA ${ca.id} and everything below it\n`));
      }
      if (action === "create") {
        const name = args.flag("name");
        const commonName = args.flag("common-name");
        if (!name || !commonName) throw new UsageError("pki ca create needs --name and --common-name");
        const type = (args.flag("type") ?? (args.flag("parent") ? "intermediate" : "root")) as "root" | "intermediate";
        if (type !== "root" && type !== "intermediate") throw new UsageError("--type must be root or intermediate");
        const ca = await ctx.client().pki.createCa({
          name, common_name: commonName, ca_type: type, parent_ca_id: args.flag("parent"), key_type: args.flag("key-type") as never,
          key_size: args.int("key-size"), validity_days: args.int("validity-days"),
        });
        return show(out, ca, () => process.stdout.write(`created ${ca.ca_type} CA ${ca.id} (${ca.name}), valid until ${ca.valid_until}\n`));
      }
      throw new UsageError(`unknown pki ca command "${action}"; see scaivault --help`);
    }
    case "issue": {
      const role = args.positional(2, "role");
      const commonName = args.flag("common-name");
      if (!commonName) throw new UsageError("pki issue needs --common-name");
      const issued = await ctx.client().pki.issue(role, { common_name: commonName, alt_names: args.list("alt-names"), ip_sans: args.list("ip-sans"), ttl: args.flag("ttl") });
      const certOut = args.flag("cert-out");
      const keyOut = args.flag("key-out");
      // The key is shown once: written to a 0600 file when asked, else printed with the certificate.
      if (certOut) writeFileSync(certOut, [issued.certificate.trim(), ...issued.ca_chain].join("\n") + "\n");
      if (keyOut && issued.private_key) writeFileSync(keyOut, issued.private_key, { mode: 0o600 });
      return show(out, keyOut ? { ...issued, private_key: undefined } : issued, () => {
        process.stdout.write(`issued ${issued.id} serial ${issued.serial_number}, valid until ${issued.not_after}\n`);
        if (!certOut) process.stdout.write(issued.certificate.trim() + "\n");
        if (!keyOut && issued.private_key) process.stdout.write(issued.private_key.trim() + "\n");
      });
    }
    case "revoke": {
      const cert = await ctx.client().pki.revoke(args.positional(2, "certificate id or serial"), args.flag("reason"));
      return show(out, cert, () => process.stdout.write(`revoked ${cert.id} (${cert.revocation_reason}) at ${cert.revoked_at}\n`));
    }
    case "acme":
      return acmeCommand(ctx);
    default:
      throw new UsageError(`unknown pki command "${sub ?? ""}"; see scaivault --help`);
  }
}

const ACCOUNT_COLUMNS = ["id", "name", "provider", "environment", "email", "status", "created_at"];

/** `scaivault pki acme account create|list`, `pki acme order create|get`. */
async function acmeCommand(ctx: Ctx): Promise<void> {
  const { args, out } = ctx;
  const what = `${args.positional(2, "acme command (account, order)")} ${args.positional(3, "action (create, list, get)")}`;
  switch (what) {
    case "account create": {
      const name = args.flag("name");
      const provider = args.flag("provider");
      if (!name || !provider) throw new UsageError("pki acme account create needs --name and --provider");
      const account = await ctx.client().pki.createAcmeAccount({
        name, provider: provider as never, environment: args.flag("environment") as never, email: args.flag("email"), directory_url: args.flag("directory-url"),
      });
      return show(out, account, () => process.stdout.write(`registered ACME account ${account.id} (${account.name}) at ${account.directory_url}\n`));
    }
    case "account list": {
      const accounts = await ctx.client().pki.listAcmeAccounts();
      return show(out, { data: accounts }, () => printTable(accounts as never, ACCOUNT_COLUMNS));
    }
    case "order create": {
      const account = args.flag("account");
      const domains = args.list("domains");
      if (!account || !domains?.length) throw new UsageError("pki acme order create needs --account and --domains");
      const order = await ctx.client().pki.createAcmeOrder({
        account_id: account, domains, challenge_type: args.flag("challenge") as never, dns_provider_id: args.flag("dns-provider"), key_type: args.flag("key-type") as never,
        secret_path: args.flag("secret-path"), renew_before: args.flag("renew-before"), auto_renew: args.has("no-auto-renew") ? false : undefined,
      });
      return show(out, order, () => process.stdout.write(`order ${order.id} ${order.status}: ${order.domains.join(", ")} → ${order.secret_path}\n`));
    }
    case "order get": {
      const order = await ctx.client().pki.getAcmeOrder(args.positional(4, "order id"));
      return show(out, order, () => printObject(order as never));
    }
    default:
      throw new UsageError(`unknown pki acme command "${what}"; see scaivault --help`);
  }
}
