import { writeFileSync } from "node:fs";
import { UsageError } from "../args.js";
import { printObject, printTable, show } from "../output.js";
import type { Ctx } from "./context.js";

export const PKI_HELP = `scaivault pki ca create --name N --common-name CN [--type root|intermediate] [--parent CA_ID] [--key-type rsa|ec] [--key-size N] [--validity-days N]
                   ca list | ca get <id> | ca revoke <id> [--reason R]
                   issue <role> --common-name CN [--alt-names a,b] [--ip-sans x,y] [--ttl 24h] [--cert-out F] [--key-out F]
                   revoke <certificate id|serial> [--reason R]`;

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
    default:
      throw new UsageError(`unknown pki command "${sub ?? ""}"; see scaivault --help`);
  }
}
