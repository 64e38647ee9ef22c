import { useState } from "preact/hooks";
import { get, post, query } from "../api";
import { ErrorBox } from "../components/error";
import { ActionButton, Field, FormCard, rowsOf, Section, Select, Table, useAction } from "../components/kit";
import { Facts, useLoad, when } from "../components/util";
import { useSession } from "../session";

type Kind = "users" | "groups" | "service-accounts";
const KEY: Record<Kind, string> = { users: "users", groups: "groups", "service-accounts": "service_accounts" };

/**
 * Access → Identity: the ScaiKey directory as the vault's identity cache holds it (spec/identity.md
 * §3): users, groups (with members), service accounts of a tenant; resolve; "Sync now" and history.
 */
export function IdentityPage() {
  const s = useSession();
  const own = s.tenant ?? s.value?.tenant_id ?? "";
  const [tenant, setTenant] = useState(own);
  const [kind, setKind] = useState<Kind>("users");
  const [q, setQ] = useState("");
  const [filter, setFilter] = useState("");
  const [group, setGroup] = useState<string | null>(null);
  const list = useLoad(() => (tenant ? get(`/v1/identity/tenants/${encodeURIComponent(tenant)}/${kind}${query({ q: filter, page_size: 100 })}`) : Promise.resolve(null)), [tenant, kind, filter]);
  const members = useLoad(() => (group ? get(`/v1/identity/groups/${encodeURIComponent(group)}/members?page_size=100`) : Promise.resolve(null)), [group]);
  const history = useLoad(() => get("/v1/identity/sync/history?limit=10"), []);
  const sync = useAction(() => history.reload());
  const [resolveType, setResolveType] = useState("user");
  const [resolveId, setResolveId] = useState("");
  const resolve = useAction();
  const [resolved, setResolved] = useState<Record<string, unknown> | null>(null);

  const rows = rowsOf(list.data, KEY[kind]);
  return (
    <section>
      <h1>Identity</h1>
      <p class="muted">The ScaiKey directory as this vault last synced it (read only here; ScaiKey is the source).</p>
      <Section title="Directory">
        <form
          class="row"
          aria-label="Directory filter"
          onSubmit={(e) => {
            e.preventDefault();
            setFilter(q);
          }}
        >
          <Field label="Tenant" value={tenant} onValue={setTenant} />
          <Select label="Show" value={kind} onValue={(v) => { setGroup(null); setKind(v as Kind); }} options={[["users", "Users"], ["groups", "Groups"], ["service-accounts", "Service accounts"]]} />
          <Field label="Search" value={q} onValue={setQ} />
          <button type="submit">Filter</button>
        </form>
        <ErrorBox error={list.error} />
        {kind === "users" ? (
          <Table caption={`Users of ${tenant}`} rows={rows} rowKey={(u) => u.id} empty="No users in the cache for this tenant." columns={[
            ["Id", (u) => u.id], ["Identity", (u) => u.identity_id], ["Name", (u) => u.display_name], ["Email", (u) => u.email], ["Status", (u) => u.status], ["MFA", (u) => (u.mfa_enabled ? "yes" : "no")], ["Groups", (u) => (u.groups ?? []).join(", ")], ["Synced", (u) => when(u.last_synced_at)],
          ]} />
        ) : kind === "groups" ? (
          <Table caption={`Groups of ${tenant}`} rows={rows} rowKey={(g) => g.id} empty="No groups in the cache for this tenant." columns={[
            ["Id", (g) => g.id], ["Name", (g) => g.name], ["Description", (g) => g.description], ["Status", (g) => g.status], ["Members", (g) => g.member_count],
            ["Action", (g) => <button type="button" onClick={() => setGroup(g.id)} aria-label={`Members of ${g.name}`}>Members</button>],
          ]} />
        ) : (
          <Table caption={`Service accounts of ${tenant}`} rows={rows} rowKey={(a) => a.id} empty="No service accounts in the cache for this tenant." columns={[
            ["Id", (a) => a.id], ["Identity", (a) => a.identity_id], ["Client id", (a) => a.client_id], ["Name", (a) => a.name ?? a.display_name], ["Status", (a) => a.status], ["Groups", (a) => (a.groups ?? []).join(", ")],
          ]} />
        )}
        {group ? (
          <>
            <ErrorBox error={members.error} />
            <Table caption={`Members of ${group} (nested groups resolved)`} rows={rowsOf(members.data, "members")} rowKey={(m) => m.identity_id} columns={[
              ["Identity", (m) => m.identity_id], ["Type", (m) => m.member_type], ["Email", (m) => m.email], ["Membership", (m) => (m.via_group_id ? `${m.membership_type} via ${m.via_group_id}` : m.membership_type)],
            ]} />
          </>
        ) : null}
      </Section>
      <FormCard
        title="Resolve an identity"
        scope="identity:read"
        submit="Resolve"
        row
        error={resolve.error}
        onSubmit={async () => {
          setResolved(null);
          const answer = await resolve.run(() => get(`/v1/identity/resolve/${resolveType}/${encodeURIComponent(resolveId)}`), (r: any) => `Resolved ${r.identity_id ?? r.id}`);
          if (answer) setResolved(answer);
        }}
      >
        <Select label="Type" value={resolveType} onValue={setResolveType} options={[["user", "User"], ["service_account", "Service account"], ["group", "Group"]]} />
        <Field label="Identity" value={resolveId} onValue={setResolveId} required placeholder="alice@example.com" />
      </FormCard>
      {resolved ? (
        <div data-testid="resolved">
          <Facts items={Object.entries(resolved)} />
        </div>
      ) : null}
      <Section title="Sync">
        <div class="row">
          <ActionButton scope="identity:admin" label="Sync now" onClick={() => void sync.run(() => post(`/v1/identity/sync${query({ tenant_id: tenant })}`), (r: any) => `Sync ${r.sync_id} ${r.status}`)} />
          <button type="button" onClick={history.reload}>
            Refresh history
          </button>
        </div>
        <ErrorBox error={sync.error ?? history.error} />
        <Table caption="Recent syncs" rows={rowsOf(history.data, "syncs")} rowKey={(x) => x.sync_id} empty="No sync has run." columns={[
          ["Sync", (x) => x.sync_id], ["Status", (x) => x.status], ["Trigger", (x) => x.trigger], ["Started", (x) => when(x.started_at)], ["Scope", (x) => [x.scope?.partner_id, x.scope?.tenant_id].filter(Boolean).join(" / ")],
          ["Changes", (x) => (x.stats ? `${x.stats.seen} seen, ${x.stats.added} added, ${x.stats.updated} updated, ${x.stats.disabled} disabled` : "—")], ["Errors", (x) => (x.errors?.length ? x.errors.map((e: any) => e.code ?? e.message ?? String(e)).join("; ") : "—")],
        ]} />
      </Section>
    </section>
  );
}
