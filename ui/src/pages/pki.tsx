import { useEffect, useState } from "preact/hooks";
import { get, post, query } from "../api";
import { Dialog } from "../components/dialog";
import { ErrorBox } from "../components/error";
import { ActionButton, Check, Field, FormCard, rowsOf, Section, Select, ShowOnce, SubNav, Table, useAction } from "../components/kit";
import { can, More, useLoad, when } from "../components/util";
import { DnsProvidersPage } from "./dns";

const list = (text: string) => text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);

export const PKI_TABS: Array<[string, string]> = [
  ["/ui/pki/cas", "Certificate authorities"],
  ["/ui/pki/roles", "Roles"],
  ["/ui/pki/certificates", "Certificates"],
  ["/ui/pki/csrs", "CSR requests"],
  ["/ui/pki/dns", "DNS providers"],
];

/** PKI (spec/pki.md): CAs, roles, certificates, CSR review and DNS providers, as tabs. */
export function PkiPage({ path }: { path: string }) {
  const tab = PKI_TABS.find(([href]) => path.startsWith(href))?.[0] ?? "/ui/pki/cas";
  return (
    <section>
      <h1>PKI</h1>
      <SubNav label="PKI sections" current={tab} items={PKI_TABS} />
      {tab === "/ui/pki/roles" ? <RolesTab /> : tab === "/ui/pki/certificates" ? <CertificatesTab /> : tab === "/ui/pki/csrs" ? <CsrTab /> : tab === "/ui/pki/dns" ? <DnsProvidersPage /> : <CasTab />}
    </section>
  );
}

/** Confirms a destructive step by naming what it acts on. */
function Confirm({ title, text, action, onConfirm, onClose }: { title: string; text: string; action: string; onConfirm: () => void; onClose: () => void }) {
  return (
    <Dialog title={title} onClose={onClose}>
      <p>{text}</p>
      <div class="actions">
        <button type="button" class="danger" onClick={onConfirm}>
          {action}
        </button>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}

function CasTab() {
  const cas = useLoad(() => (can("pki:admin") ? get("/v1/pki/ca") : Promise.resolve({ data: [] })), []);
  const action = useAction(() => cas.reload());
  const [name, setName] = useState("");
  const [cn, setCn] = useState("");
  const [type, setType] = useState("root");
  const [parent, setParent] = useState("");
  const [keyType, setKeyType] = useState("ec");
  const [validity, setValidity] = useState("3650");
  const [chain, setChain] = useState<{ name: string; certificate_pem: string; chain_pem: string } | null>(null);
  const [revoking, setRevoking] = useState<any>(null);
  const rows = rowsOf(cas.data);
  const parents = rows.filter((c) => c.is_active && !c.revoked_at);
  const showChain = async (ca: any) => {
    const answer = await action.run(() => get(`/v1/pki/ca/${encodeURIComponent(ca.id)}/certificate?format=json`), () => `Chain of ${ca.name} shown`);
    if (answer) setChain({ name: ca.name, ...(answer as any) });
  };
  return (
    <>
      <FormCard
        title="Create a CA"
        scope="pki:admin"
        error={action.error}
        onSubmit={() =>
          action.run(
            () => post("/v1/pki/ca", { name, common_name: cn, ca_type: type, parent_ca_id: type === "intermediate" ? parent || parents[0]?.id : undefined, key_type: keyType, validity_days: Number(validity) || undefined }),
            (ca: any) => `CA ${ca.name} created`,
          )
        }
      >
        <Field label="Name" value={name} onValue={setName} required />
        <Field label="Common name" value={cn} onValue={setCn} required />
        <Select label="Type" value={type} onValue={setType} options={[["root", "Root"], ["intermediate", "Intermediate"]]} />
        {type === "intermediate" ? <Select label="Parent CA" value={parent || parents[0]?.id || ""} onValue={setParent} options={parents.map((c) => [c.id, `${c.name} (${c.common_name})`] as [string, string])} /> : null}
        <Select label="Key type" value={keyType} onValue={setKeyType} options={[["ec", "EC"], ["rsa", "RSA"]]} />
        <Field label="Validity (days)" type="number" value={validity} onValue={setValidity} />
      </FormCard>
      <ErrorBox error={cas.error} />
      <Table caption="Certificate authorities" rows={rows} rowKey={(c) => c.id} empty={can("pki:admin") ? "No CAs yet." : "Listing CAs needs the pki:admin scope."} columns={[
        ["Name", (c) => c.name], ["Common name", (c) => c.common_name], ["Type", (c) => c.ca_type], ["Parent", (c) => c.parent_ca_id ?? "—"], ["Key", (c) => `${c.key_type} ${c.key_size}`],
        ["Valid until", (c) => when(c.valid_until)], ["State", (c) => (c.revoked_at ? `revoked ${when(c.revoked_at)}` : c.is_active ? "active" : "inactive")], ["Issued", (c) => c.certificates_issued],
        ["Actions", (c) => (
          <div class="row">
            <button type="button" onClick={() => void showChain(c)} aria-label={`View chain of ${c.name}`}>
              View chain
            </button>
            {c.revoked_at ? null : <ActionButton scope="pki:admin" danger label="Revoke" name={`Revoke ${c.name}`} onClick={() => setRevoking(c)} />}
          </div>
        )],
      ]} />
      {chain ? (
        <Dialog title={`Chain of ${chain.name}`} onClose={() => setChain(null)}>
          <h3>Certificate</h3>
          <pre class="token" tabIndex={0} aria-label="CA certificate">{chain.certificate_pem}</pre>
          <h3>Issuers</h3>
          <pre class="token" tabIndex={0} aria-label="Issuer chain">{chain.chain_pem || "(a root: no issuers)"}</pre>
          <div class="actions">
            <button type="button" onClick={() => setChain(null)}>
              Close
            </button>
          </div>
        </Dialog>
      ) : null}
      {revoking ? (
        <Confirm title={`Revoke ${revoking.name}?`} text={`Revoking CA ${revoking.name} (${revoking.common_name}) also revokes everything it issued. This cannot be undone.`} action="Revoke" onClose={() => setRevoking(null)}
          onConfirm={() => {
            const ca = revoking;
            setRevoking(null);
            void action.run(() => post(`/v1/pki/ca/${encodeURIComponent(ca.id)}/revoke`, {}), () => `CA ${ca.name} revoked`);
          }} />
      ) : null}
    </>
  );
}

function useCas() {
  return useLoad(() => (can("pki:admin") ? get("/v1/pki/ca") : Promise.resolve({ data: [] })), []);
}

function RolesTab() {
  const roles = useLoad(() => (can("pki:admin") ? get("/v1/pki/roles") : Promise.resolve({ data: [] })), []);
  const cas = useCas();
  const action = useAction(() => roles.reload());
  const [name, setName] = useState("");
  const [ca, setCa] = useState("");
  const [domains, setDomains] = useState("");
  const [subdomains, setSubdomains] = useState(true);
  const [ttl, setTtl] = useState("720h");
  const [maxTtl, setMaxTtl] = useState("2160h");
  const [keyType, setKeyType] = useState("ec");
  const caRows = rowsOf(cas.data).filter((c) => !c.revoked_at);
  return (
    <>
      <FormCard title="Create a role" scope="pki:admin" error={action.error}
        onSubmit={() => action.run(() => post("/v1/pki/roles", { name, ca_id: ca || caRows[0]?.id || "", allowed_domains: list(domains), allow_subdomains: subdomains, ttl, max_ttl: maxTtl, key_type: keyType }), (r: any) => `Role ${r.name} created`)}>
        <Field label="Name" value={name} onValue={setName} required />
        <Select label="CA" value={ca || caRows[0]?.id || ""} onValue={setCa} options={caRows.map((c) => [c.id, `${c.name} (${c.common_name})`] as [string, string])} />
        <Field label="Allowed domains" value={domains} onValue={setDomains} required hint="Separated by spaces or commas." />
        <Check label="Allow subdomains" checked={subdomains} onValue={setSubdomains} />
        <Field label="Default TTL" value={ttl} onValue={setTtl} />
        <Field label="Maximum TTL" value={maxTtl} onValue={setMaxTtl} />
        <Select label="Key type" value={keyType} onValue={setKeyType} options={[["ec", "EC"], ["rsa", "RSA"], ["any", "Any (sign only)"]]} />
      </FormCard>
      <ErrorBox error={roles.error ?? cas.error} />
      <Table caption="Roles" rows={rowsOf(roles.data)} rowKey={(r) => r.name} empty={can("pki:admin") ? "No roles yet." : "Listing roles needs the pki:admin scope."} columns={[
        ["Name", (r) => r.name], ["CA", (r) => r.ca_id], ["Domains", (r) => (r.allowed_domains ?? []).join(", ")], ["Subdomains", (r) => (r.allow_subdomains ? "yes" : "no")], ["TTL", (r) => `${r.ttl} (max ${r.max_ttl})`], ["Key", (r) => r.key_type],
      ]} />
    </>
  );
}

function CertificatesTab() {
  const [includeRevoked, setIncludeRevoked] = useState(true);
  const certs = useLoad(() => get(`/v1/pki/certificates${query({ include_revoked: includeRevoked, limit: 200 })}`), [includeRevoked]);
  const roles = useLoad(() => (can("pki:admin") ? get("/v1/pki/roles") : Promise.resolve({ data: [] })), []);
  const action = useAction(() => certs.reload());
  const [role, setRole] = useState("");
  const [cn, setCn] = useState("");
  const [alt, setAlt] = useState("");
  const [ttl, setTtl] = useState("");
  const [issued, setIssued] = useState<any>(null);
  const [revoking, setRevoking] = useState<any>(null);
  const roleRows = rowsOf(roles.data);
  const chosen = role || roleRows[0]?.name || "";
  return (
    <>
      <FormCard title="Issue a certificate" scope="pki:issue" submit="Issue" error={action.error}
        onSubmit={async () => {
          const answer = await action.run(() => post(`/v1/pki/issue/${encodeURIComponent(chosen)}`, { common_name: cn, alt_names: alt ? list(alt) : undefined, ttl: ttl || undefined }), (c: any) => `Certificate ${c.serial_number} issued`);
          if (answer) setIssued(answer);
        }}>
        {roleRows.length ? <Select label="Role" value={chosen} onValue={setRole} options={roleRows.map((r) => r.name)} /> : <Field label="Role" value={role} onValue={setRole} required />}
        <Field label="Common name" value={cn} onValue={setCn} required />
        <Field label="Alternative names" value={alt} onValue={setAlt} hint="Separated by spaces or commas." />
        <Field label="TTL (empty: the role's)" value={ttl} onValue={setTtl} />
      </FormCard>
      <Check label="Include revoked" checked={includeRevoked} onValue={setIncludeRevoked} />
      <ErrorBox error={certs.error} />
      <Table caption="Certificates" rows={rowsOf(certs.data)} rowKey={(c) => c.id} empty="No certificates." columns={[
        ["Serial", (c) => c.serial_number], ["Common name", (c) => c.common_name ?? "—"], ["Names", (c) => [...(c.alt_names ?? []), ...(c.ip_sans ?? [])].join(", ")], ["Role", (c) => c.role ?? "—"], ["Source", (c) => c.source],
        ["Expires", (c) => when(c.not_after)], ["State", (c) => (c.revoked_at ? `revoked (${c.revocation_reason ?? "unspecified"})` : "valid")],
        ["Action", (c) => (c.revoked_at ? null : <ActionButton scope="pki:admin" danger label="Revoke" name={`Revoke ${c.common_name ?? c.serial_number}`} onClick={() => setRevoking(c)} />)],
      ]} />
      {issued ? (
        <ShowOnce
          title={`Certificate for ${issued.common_name ?? cn}`}
          warning="The private key is shown only this once: the vault keeps no copy unless the role stores keys. Copy it now."
          fields={[["Certificate", issued.certificate], ["Private key", issued.private_key], ["CA chain", (issued.ca_chain ?? []).join("\n")]]}
          onClose={() => setIssued(null)}
        />
      ) : null}
      {revoking ? (
        <Confirm title={`Revoke ${revoking.common_name ?? revoking.serial_number}?`} text={`Certificate ${revoking.serial_number} will be listed on its CA's CRL and OCSP as revoked.`} action="Revoke" onClose={() => setRevoking(null)}
          onConfirm={() => {
            const cert = revoking;
            setRevoking(null);
            void action.run(() => post(`/v1/pki/certificates/${encodeURIComponent(cert.id)}/revoke`, {}), () => `Certificate ${cert.serial_number} revoked`);
          }} />
      ) : null}
    </>
  );
}

function CsrTab() {
  const [state, setState] = useState("pending");
  // Oldest first, 100 a page; "Load more" appends the next page, a review or a new state starts over.
  const [cursor, setCursor] = useState<string | null>(null);
  const [items, setItems] = useState<any[]>([]);
  const csrs = useLoad(() => (can("pki:admin") ? get(`/v1/pki/csrs${query({ state, limit: 100, cursor })}`) : Promise.resolve({ data: [], cursor: null, has_more: false })), [state, cursor]);
  useEffect(() => {
    if (csrs.data) setItems((old) => (cursor ? [...old, ...rowsOf(csrs.data)] : rowsOf(csrs.data)));
  }, [csrs.data]);
  const action = useAction(() => (cursor ? setCursor(null) : csrs.reload()));
  const [reasons, setReasons] = useState<Record<string, string>>({});
  return (
    <Section title="CSR requests">
      <Select label="State" value={state} onValue={(value) => (setCursor(null), setState(value))} options={[["pending", "Pending"], ["signed", "Signed"], ["rejected", "Rejected"], ["expired", "Expired"], ["", "All"]]} />
      <ErrorBox error={csrs.error ?? action.error} />
      <Table caption="Certificate signing requests" rows={items} rowKey={(c) => c.id} empty={can("pki:admin") ? "No requests in this state." : "Reviewing CSRs needs the pki:admin scope."} columns={[
        ["Id", (c) => c.id], ["Role", (c) => c.role], ["Common name", (c) => c.common_name ?? "—"], ["Names", (c) => [...(c.alt_names ?? []), ...(c.ip_sans ?? [])].join(", ")], ["Requested by", (c) => c.requested_by], ["Comment", (c) => c.comment ?? "—"], ["State", (c) => c.state + (c.reason ? `: ${c.reason}` : "")],
        ["Review", (c) => (c.state !== "pending" ? null : (
          <div class="row">
            <ActionButton scope="pki:admin" label="Approve" name={`Approve ${c.id}`} onClick={() => void action.run(() => post(`/v1/pki/csrs/${encodeURIComponent(c.id)}/approve`, {}), () => `CSR ${c.id} approved`)} />
            <label>
              Reason for {c.id} <input value={reasons[c.id] ?? ""} onInput={(e) => setReasons({ ...reasons, [c.id]: (e.target as HTMLInputElement).value })} />
            </label>
            <ActionButton scope="pki:admin" danger label="Reject" name={`Reject ${c.id}`} onClick={() => void action.run(() => post(`/v1/pki/csrs/${encodeURIComponent(c.id)}/reject`, { reason: reasons[c.id] || undefined }), () => `CSR ${c.id} rejected`)} />
          </div>
        ))],
      ]} />
      <More hasMore={!!csrs.data?.has_more} onMore={() => setCursor(csrs.data.cursor)} />
    </Section>
  );
}
