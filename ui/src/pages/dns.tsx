import { useState } from "preact/hooks";
import { del, get, post } from "../api";
import { ErrorBox } from "../components/error";
import { ActionButton, Check, Field, FormCard, notBuilt, rowsOf, Section, Select, Table, useAction } from "../components/kit";
import { can, useLoad, when } from "../components/util";

const list = (text: string) => text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);

/**
 * PKI → DNS Providers (spec/pki.md §P7): providers for ACME dns-01. Credentials are write-only:
 * typed into a password field, sent once, never returned or shown. A vault without the route
 * (404) gets a notice instead of a broken page.
 */
export function DnsProvidersPage() {
  const providers = useLoad(() => (can("pki:admin") ? get("/v1/dns/providers") : Promise.resolve({ data: [] })), []);
  const action = useAction(() => providers.reload());
  const [name, setName] = useState("");
  const [type, setType] = useState("rfc2136");
  const [server, setServer] = useState("");
  const [keyName, setKeyName] = useState("");
  const [algorithm, setAlgorithm] = useState("hmac-sha256");
  const [ttl, setTtl] = useState("60");
  const [secret, setSecret] = useState("");
  const [apiToken, setApiToken] = useState("");
  const [zones, setZones] = useState("");
  const [verify, setVerify] = useState(false);
  const [tested, setTested] = useState<Record<string, string>>({});

  if (notBuilt(providers.error)) {
    return (
      <Section title="DNS providers">
        <p role="note" data-testid="dns-unavailable">
          This vault has no DNS provider API yet (GET /v1/dns/providers answered 404). Upgrade the vault to manage providers for ACME dns-01.
        </p>
      </Section>
    );
  }
  const body = () => {
    const config = type === "rfc2136" ? { server, tsig_key_name: keyName || undefined, tsig_algorithm: algorithm, ttl: Number(ttl) || 60 } : {};
    const credentials = type === "rfc2136" ? (secret ? { tsig_secret: secret } : {}) : { api_token: apiToken };
    return { name, provider_type: type, config, credentials, managed_zones: list(zones), verify };
  };
  return (
    <Section title="DNS providers">
      <FormCard title="Add a DNS provider" scope="pki:admin" error={action.error}
        onSubmit={async () => {
          const created = await action.run(() => post("/v1/dns/providers", body()), (p: any) => `DNS provider ${p.name} created`);
          // The secret leaves the page's memory once sent, whatever the answer.
          setSecret("");
          setApiToken("");
          if (created) setName("");
        }}>
        <Field label="Name" value={name} onValue={setName} required />
        <Select label="Provider type" value={type} onValue={setType} options={[["rfc2136", "RFC 2136 (dynamic DNS update)"], ["cloudflare", "Cloudflare"]]} />
        {type === "rfc2136" ? (
          <>
            <Field label="Server (host:port)" value={server} onValue={setServer} required placeholder="ns1.example.com:53" />
            <Field label="TSIG key name" value={keyName} onValue={setKeyName} />
            <Select label="TSIG algorithm" value={algorithm} onValue={setAlgorithm} options={["hmac-sha256", "hmac-sha512", "hmac-sha1"]} />
            <Field label="Record TTL (seconds)" type="number" value={ttl} onValue={setTtl} />
            <Field label="TSIG secret (base64)" type="password" value={secret} onValue={setSecret} hint="Write-only: sent once, never shown again." />
          </>
        ) : (
          <Field label="API token" type="password" value={apiToken} onValue={setApiToken} required hint="Write-only: sent once, never shown again." />
        )}
        <Field label="Managed zones" value={zones} onValue={setZones} required hint="zone or *.zone, separated by spaces or commas." />
        <Check label="Verify the zones now (SOA query)" checked={verify} onValue={setVerify} />
      </FormCard>
      <ErrorBox error={providers.error} />
      <Table caption="DNS providers" rows={rowsOf(providers.data, "providers")} rowKey={(p) => p.id} empty={can("pki:admin") ? "No DNS providers yet." : "Listing DNS providers needs the pki:admin scope."} columns={[
        ["Name", (p) => p.name], ["Type", (p) => p.provider_type], ["Zones", (p) => (p.managed_zones ?? []).join(", ")], ["Config", (p) => Object.entries(p.config ?? {}).map(([k, v]) => `${k}=${String(v)}`).join(", ")],
        ["State", (p) => (p.is_active === false ? "inactive" : "active")], ["Created", (p) => when(p.created_at)], ["Test", (p) => tested[p.id] ?? "—"],
        ["Actions", (p) => (
          <div class="row">
            <ActionButton scope="pki:admin" label="Test" name={`Test ${p.name}`} onClick={() => void action.run(() => post(`/v1/dns/providers/${encodeURIComponent(p.id)}/test`, {}), (r: any) => {
              const text = r.ok ? `ok (${(r.zones ?? []).map((z: any) => (typeof z === "string" ? z : z.zone ?? JSON.stringify(z))).join(", ")})` : "failed";
              setTested((t) => ({ ...t, [p.id]: text }));
              return `${p.name}: ${text}`;
            })} />
            <ActionButton scope="pki:admin" danger label="Delete" name={`Delete ${p.name}`} onClick={() => void action.run(() => del(`/v1/dns/providers/${encodeURIComponent(p.id)}`), () => `DNS provider ${p.name} deleted`)} />
          </div>
        )],
      ]} />
    </Section>
  );
}
