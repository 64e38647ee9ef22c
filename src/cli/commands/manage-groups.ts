/** The management groups (policies, rotation, webhooks, …) as CLI groups, with examples per command. */
import { groupFromHelp, type GroupModule } from "../registry.js";
import { checkpointsCommand } from "./checkpoints.js";
import type { Ctx } from "./context.js";
import { manageCommand, MANAGE_HELP } from "./manage.js";

const HELP = `${MANAGE_HELP}
scaivault audit checkpoints [--chain C] [--from TS] [--to TS] [--follow] [--check FILE]`;

const run = (group: string) => (ctx: Ctx, sub: string | undefined) => manageCommand(ctx, group, sub);

const EXAMPLES: Record<string, Record<string, string[]>> = {
  policies: {
    list: ["scaivault policies list", "scaivault policies list -o json"],
    get: ["scaivault policies get pol_123"],
    create: ["scaivault policies create --file policy.json", "cat policy.json | scaivault policies create --file -"],
    update: ["scaivault policies update pol_123 --file policy.json"],
    delete: ["scaivault policies delete pol_123 --force"],
    bindings: ["scaivault policies bindings pol_123"],
    bind: ["scaivault policies bind pol_123 --identity sa:reporting", "scaivault policies bind pol_123 --identity alice --expires-at 2030-01-01T00:00:00Z"],
    unbind: ["scaivault policies unbind pol_123 bnd_456"],
    test: ["scaivault policies test --identity sa:reporting --path app/db --permission read"],
  },
  rotation: {
    list: ["scaivault rotation list"],
    get: ["scaivault rotation get rp_123"],
    create: ["scaivault rotation create --name quarterly --interval 90d --grace-period 48h --auto-generate", "scaivault rotation create --file rotation.json"],
    delete: ["scaivault rotation delete rp_123"],
    enable: ["scaivault rotation enable rp_123"],
    disable: ["scaivault rotation disable rp_123"],
    assign: ["scaivault rotation assign rp_123 app/db"],
    unassign: ["scaivault rotation unassign rp_123 app/db"],
    rotate: ["scaivault rotation rotate rp_123", "scaivault rotation rotate rp_123 app/db app/cache"],
    history: ["scaivault rotation history rp_123 --status failed"],
    due: ["scaivault rotation due --within-hours 24"],
  },
  webhooks: {
    list: ["scaivault webhooks list"],
    get: ["scaivault webhooks get wh_123"],
    create: ["scaivault webhooks create --name ci --url https://ci.example.com/hook --secret - --events secret.updated,secret.rotated"],
    delete: ["scaivault webhooks delete wh_123"],
    test: ["scaivault webhooks test wh_123"],
    deliveries: ["scaivault webhooks deliveries wh_123 --status failed"],
    redeliver: ["scaivault webhooks redeliver wh_123 dlv_456"],
  },
  subscriptions: {
    list: ["scaivault subscriptions list"],
    get: ["scaivault subscriptions get sub_123"],
    create: ["scaivault subscriptions create --file subscription.json"],
    delete: ["scaivault subscriptions delete sub_123"],
    poll: ["scaivault subscriptions poll sub_123 --timeout 30"],
    ack: ["scaivault subscriptions ack sub_123 evt_1 evt_2"],
  },
  audit: {
    logs: ["scaivault audit logs --path-prefix app/ --success false", "scaivault audit logs --action read --limit 50 -o json"],
    verify: ["scaivault audit verify"],
    summary: ["scaivault audit summary --from 2026-01-01T00:00:00Z"],
    export: ["scaivault audit export --destination monthly --format csv --from 2026-01-01T00:00:00Z"],
    exports: ["scaivault audit exports", "scaivault audit exports get exp_123"],
    checkpoints: ["scaivault audit checkpoints", "scaivault audit checkpoints --follow -o json >> checkpoints.jsonl", "scaivault audit checkpoints --check checkpoints.jsonl"],
  },
  "secret-policies": {
    list: ["scaivault secret-policies list"],
    get: ["scaivault secret-policies get sp_123"],
    delete: ["scaivault secret-policies delete sp_123"],
    preview: ["scaivault secret-policies preview sp_123"],
    create: ["scaivault secret-policies create --name db --field password:password32 --field user:static", "scaivault secret-policies create --json-file policy.json"],
  },
  tenants: {
    list: ["scaivault tenants list"],
    create: ["scaivault tenants create --name Acme --id acme"],
  },
  tokens: {
    list: ["scaivault tokens list"],
    create: ["scaivault tokens create --identity sa:ci --scopes secrets:read --expires-in 30d --description 'CI reader'", "scaivault tokens create --scopes secrets:read --description laptop   # a personal token for yourself"],
    revoke: ["scaivault tokens revoke tok_123"],
  },
};

const SUMMARIES: Record<string, string> = {
  policies: "access policies and their bindings",
  rotation: "rotation policies: schedules, assignments, history",
  webhooks: "webhook targets and deliveries",
  subscriptions: "polling subscriptions to events",
  audit: "audit logs, verification, exports and checkpoints",
  "secret-policies": "generators for secret values",
  tenants: "tenants (partner admins)",
  tokens: "vault tokens: for service accounts (admin) and personal ones for yourself",
};

export const MANAGE_GROUPS: GroupModule[] = Object.entries(SUMMARIES).map(([name, summary]) =>
  groupFromHelp(name, summary, HELP, name === "audit" ? (ctx, sub) => (sub === "checkpoints" ? checkpointsCommand(ctx) : manageCommand(ctx, name, sub)) : run(name), EXAMPLES[name]),
);
