import { useState } from "preact/hooks";
import { del, get, post, put, query, secretUrl } from "../api";
import { ErrorBox } from "../components/error";
import { ActionButton, Field, FormCard, rowsOf, Section, Select, ShowOnce, Table, useAction } from "../components/kit";
import { can, useLoad, when } from "../components/util";

const lines = (text: string) => text.split("\n").map((l) => l.trim()).filter(Boolean);

/**
 * Dynamic credentials (spec/dynamic.md): engines ("backends") and their roles, "Generate
 * credentials" (shown once), and leases (renew, revoke). Root credentials live in a vault secret
 * the engine reads as `dynamic:<engine>`; the form can write that secret, from a password field
 * that is cleared once sent and never read back.
 */
export function DynamicPage() {
  const engines = useLoad(() => (can("dynamic:read") ? get("/v1/dynamic/engines") : Promise.resolve({ data: [] })), []);
  const [leaseState, setLeaseState] = useState("active");
  const leases = useLoad(() => (can("dynamic:read") ? get(`/v1/dynamic/leases${query({ state: leaseState, limit: 200 })}`) : Promise.resolve({ data: [] })), [leaseState]);
  const reloadAll = () => {
    engines.reload();
    leases.reload();
  };
  const action = useAction(reloadAll);
  const [name, setName] = useState("");
  const [plugin, setPlugin] = useState("postgresql");
  const [url, setUrl] = useState("");
  const [rootPath, setRootPath] = useState("");
  const [rootUser, setRootUser] = useState("");
  const [rootPassword, setRootPassword] = useState("");
  const [defaultTtl, setDefaultTtl] = useState("1h");
  const [maxTtl, setMaxTtl] = useState("24h");
  const [selected, setSelected] = useState<string | null>(null);
  const rows = rowsOf(engines.data);
  const engine = selected ?? rows[0]?.name ?? null;

  const createEngine = async () => {
    const path = rootPath || `infra/dynamic/${name}/root`;
    const created = await action.run(async () => {
      if (rootPassword) await put(secretUrl(path), { data: { username: rootUser, password: rootPassword }, secret_type: "json" });
      return post("/v1/dynamic/engines", { name, type: "database", config: { plugin, connection_url: url, root_credentials_path: path }, default_ttl: defaultTtl || undefined, max_ttl: maxTtl || undefined });
    }, (e: any) => `Engine ${e.name} created`);
    // The root password leaves the page's memory once sent, whatever the answer.
    setRootPassword("");
    if (created) setSelected((created as any).name);
  };
  return (
    <section>
      <h1>Dynamic credentials</h1>
      <FormCard title="Create a database engine" scope="dynamic:manage" error={action.error} onSubmit={createEngine}>
        <Field label="Name" value={name} onValue={setName} required />
        <Select label="Database" value={plugin} onValue={setPlugin} options={[["postgresql", "PostgreSQL"], ["mysql", "MySQL / MariaDB"], ["redis", "Redis"]]} />
        <Field label="Connection URL (no password)" value={url} onValue={setUrl} required placeholder="postgresql://127.0.0.1:5432/app" />
        <Field label="Root credentials secret path" value={rootPath} onValue={setRootPath} placeholder={`infra/dynamic/${name || "<name>"}/root`} hint={`The engine reads it as dynamic:${name || "<name>"}: a policy must allow that identity read (and rotate) on it.`} />
        <fieldset>
          <legend>Write the root credentials to that secret (optional)</legend>
          <Field label="Root username" value={rootUser} onValue={setRootUser} />
          <Field label="Root password" type="password" value={rootPassword} onValue={setRootPassword} hint="Sent once to the secret, never shown again." />
        </fieldset>
        <Field label="Default TTL" value={defaultTtl} onValue={setDefaultTtl} />
        <Field label="Maximum TTL" value={maxTtl} onValue={setMaxTtl} />
      </FormCard>
      <ErrorBox error={engines.error} />
      <Table caption="Engines" rows={rows} rowKey={(e) => e.id} empty={can("dynamic:read") ? "No engines yet." : "Listing engines needs the dynamic:read scope."} columns={[
        ["Name", (e) => e.name], ["Type", (e) => `${e.type}${e.config?.plugin ? ` (${e.config.plugin})` : ""}`], ["Connection", (e) => e.config?.connection_url ?? "—"], ["Root secret", (e) => e.config?.root_credentials_path ?? "—"],
        ["TTL", (e) => `${e.default_ttl} (max ${e.max_ttl})`], ["Status", (e) => e.status], ["Live leases", (e) => e.leases_active],
        ["Actions", (e) => (
          <div class="row">
            <button type="button" aria-pressed={engine === e.name} onClick={() => setSelected(e.name)} aria-label={`Roles of ${e.name}`}>
              Roles
            </button>
            <ActionButton scope="dynamic:manage" danger label="Delete" name={`Delete ${e.name}`} onClick={() => void action.run(() => del(`/v1/dynamic/engines/${encodeURIComponent(e.name)}`), () => `Engine ${e.name} deleted`)} />
          </div>
        )],
      ]} />
      {engine ? <RolesSection key={engine} engine={engine} plugin={rows.find((e) => e.name === engine)?.config?.plugin} onLease={leases.reload} /> : null}
      <Section title="Leases">
        <Select label="Lease state" value={leaseState} onValue={setLeaseState} options={[["active", "Active"], ["revoked", "Revoked"], ["expired", "Expired"], ["revoke_failed", "Revoke failed"], ["", "All"]]} />
        <ErrorBox error={leases.error} />
        <Table caption="Leases" rows={rowsOf(leases.data)} rowKey={(l) => l.lease_id} empty="No leases in this state." columns={[
          ["Lease", (l) => l.lease_id], ["Engine / role", (l) => `${l.engine}/${l.role}`], ["Username", (l) => l.username], ["Holder", (l) => l.identity_id], ["State", (l) => l.state + (l.last_error ? ` (${l.last_error})` : "")],
          ["Expires", (l) => when(l.expires_at)], ["Max", (l) => when(l.max_expires_at)],
          ["Actions", (l) => (l.state !== "active" ? null : (
            <div class="row">
              <ActionButton scope="dynamic:read" label="Renew" name={`Renew ${l.lease_id}`} onClick={() => void action.run(() => post(`/v1/dynamic/leases/${encodeURIComponent(l.lease_id)}/renew`, {}), (r: any) => `Lease ${l.lease_id} renewed until ${when(r.expires_at)}`)} />
              <ActionButton scope="dynamic:read" danger label="Revoke" name={`Revoke ${l.lease_id}`} onClick={() => void action.run(() => post(`/v1/dynamic/leases/${encodeURIComponent(l.lease_id)}/revoke`, {}), () => `Lease ${l.lease_id} revoked`)} />
            </div>
          ))],
        ]} />
      </Section>
    </section>
  );
}

function RolesSection({ engine, plugin, onLease }: { engine: string; plugin?: string; onLease: () => void }) {
  const base = `/v1/dynamic/engines/${encodeURIComponent(engine)}`;
  const roles = useLoad(() => get(`${base}/roles`), [engine]);
  const action = useAction(() => roles.reload());
  const generate = useAction(onLease);
  const [name, setName] = useState("");
  const [creation, setCreation] = useState(plugin === "postgresql" ? `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'` : "");
  const [revocation, setRevocation] = useState("");
  const [defaultTtl, setDefaultTtl] = useState("");
  const [maxTtl, setMaxTtl] = useState("");
  const [ttl, setTtl] = useState("");
  const [creds, setCreds] = useState<any>(null);
  return (
    <Section title={`Roles of ${engine}`}>
      <FormCard title={`Create a role in ${engine}`} scope="dynamic:manage" error={action.error}
        onSubmit={() => action.run(() => post(`${base}/roles`, { name, creation_statements: lines(creation), revocation_statements: revocation ? lines(revocation) : undefined, default_ttl: defaultTtl || undefined, max_ttl: maxTtl || undefined }), (r: any) => `Role ${r.name} created`)}>
        <Field label="Role name" value={name} onValue={setName} required />
        <label>
          Creation statements (one a line; {"{{name}}"}, {"{{password}}"}, {"{{expiration}}"}){" "}
          <textarea rows={3} value={creation} onInput={(e) => setCreation((e.target as HTMLTextAreaElement).value)} />
        </label>
        <label>
          Revocation statements (optional){" "}
          <textarea rows={2} value={revocation} onInput={(e) => setRevocation((e.target as HTMLTextAreaElement).value)} />
        </label>
        <Field label="Role default TTL" value={defaultTtl} onValue={setDefaultTtl} />
        <Field label="Role maximum TTL" value={maxTtl} onValue={setMaxTtl} />
      </FormCard>
      <Field label="Lease TTL for new credentials (empty: the role's)" value={ttl} onValue={setTtl} />
      <ErrorBox error={roles.error ?? generate.error} />
      <Table caption={`Roles of ${engine}`} rows={rowsOf(roles.data)} rowKey={(r) => r.name} empty="No roles yet." columns={[
        ["Name", (r) => r.name], ["TTL", (r) => `${r.default_ttl} (max ${r.max_ttl})`], ["Description", (r) => r.description ?? "—"],
        ["Actions", (r) => (
          <div class="row">
            <ActionButton scope="dynamic:read" label="Generate credentials" name={`Generate credentials for ${r.name}`} onClick={async () => {
              const answer = await generate.run(() => post(`${base}/creds/${encodeURIComponent(r.name)}`, ttl ? { ttl } : {}), (l: any) => `Lease ${l.lease_id} created`);
              if (answer) setCreds(answer);
            }} />
            <ActionButton scope="dynamic:manage" danger label="Delete" name={`Delete role ${r.name}`} onClick={() => void action.run(() => del(`${base}/roles/${encodeURIComponent(r.name)}`), () => `Role ${r.name} deleted`)} />
          </div>
        )],
      ]} />
      {creds ? (
        <ShowOnce
          title={`Credentials for ${engine}/${creds.role}`}
          warning={`Shown only this once. Lease ${creds.lease_id} expires ${when(creds.expires_at)}; revoke it when done.`}
          fields={Object.entries(creds.data ?? {}).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)] as [string, string])}
          onClose={() => setCreds(null)}
        />
      ) : null}
    </Section>
  );
}
