/**
 * Every command group of the CLI, in help order. To add a group: write a GroupModule (see
 * registry.ts; or wrap an older `FOO_HELP` + `fooCommand` module with groupFromHelp) and add it here.
 */
import { completionGroup } from "./commands/completion.js";
import { CORE_GROUPS } from "./commands/core.js";
import { MANAGE_GROUPS } from "./commands/manage-groups.js";
import { dynamicCommand, DYNAMIC_HELP } from "./commands/dynamic.js";
import { pkiCommand, PKI_HELP } from "./commands/pki.js";
import { dnsCommand, DNS_HELP } from "./commands/dns.js";
import { IDENTITY_EXAMPLES, IDENTITY_HELP, identityCommand, TRUSTS_EXAMPLES, trustsCommand } from "./commands/identity.js";
import { SECRETS_GROUP } from "./commands/secrets.js";
import { groupFromHelp, type GroupModule } from "./registry.js";
import { WORKFLOW_GROUPS } from "./workflows/groups.js";

export const GROUPS: GroupModule[] = [
  ...CORE_GROUPS.slice(0, 2),
  SECRETS_GROUP,
  ...WORKFLOW_GROUPS,
  ...MANAGE_GROUPS,
  // Other domains' groups (identity, pki, dynamic) go here.
  groupFromHelp("identity", "The ScaiKey directory as the vault knows it: users, groups, syncs, roles", IDENTITY_HELP, identityCommand, IDENTITY_EXAMPLES),
  groupFromHelp("trusts", "Token-exchange trusts: which workload tokens auth login --exchange may trade", IDENTITY_HELP, trustsCommand, TRUSTS_EXAMPLES),
  groupFromHelp("pki", "Certificate authorities and certificates", PKI_HELP, pkiCommand, {
    ca: ["scaivault pki ca create --name root --common-name \"Acme Root\" --key-type ec"],
    issue: ["scaivault pki issue web --common-name api.acme.internal --cert-out api.pem --key-out api.key"],
    acme: ["scaivault pki acme account create --name le --provider letsencrypt --email certs@example.com", "scaivault pki acme order create --account acme_123 --domains www.example.com"],
  }),
  groupFromHelp("dns", "DNS providers for ACME dns-01", DNS_HELP, dnsCommand, {
    providers: ["scaivault dns providers create --name lab --server 10.0.0.53:53 --zones lab.example,*.lab.example --tsig-key-name acme --tsig-secret-file tsig.key --verify"],
  }),
  groupFromHelp("dynamic", "Dynamic credentials and their leases", DYNAMIC_HELP, dynamicCommand, {
    creds: ["scaivault dynamic creds analytics-db readonly --ttl 1h", "scaivault dynamic creds ssh-ca ops --public-key-file ~/.ssh/id_ed25519.pub --principal ubuntu"],
    renew: ["scaivault dynamic renew lease_abc --increment 1h"],
  }),
  CORE_GROUPS[2],
  completionGroup(() => GROUPS),
];
