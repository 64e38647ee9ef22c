import { useState } from "preact/hooks";
import { del, get, patch, post } from "../api";
import { ErrorBox } from "../components/error";
import { ActionButton, Field, FormCard, rowsOf, Section, Table, useAction } from "../components/kit";
import { useLoad } from "../components/util";
import { checkRules, decodeJwt, type TrustLike } from "../logic/jwt";

const list = (text: string) => text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);

/** "claim=pattern" lines → conditions; a claim named twice collects its patterns into a list. */
export function parseConditions(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const at = line.indexOf("=");
    const claim = at < 0 ? line : line.slice(0, at).trim();
    const pattern = at < 0 ? "" : line.slice(at + 1).trim();
    const prior = out[claim];
    out[claim] = prior === undefined ? pattern : [...(Array.isArray(prior) ? prior : [prior]), pattern];
  }
  return out;
}

/** Access → Token Exchange: workload-identity trusts (spec/identity.md §4), their rules, "Try a token". */
export function ExchangePage() {
  const trusts = useLoad(() => get("/v1/auth/trusts?limit=500"), []);
  const action = useAction(() => trusts.reload());
  const [name, setName] = useState("");
  const [issuer, setIssuer] = useState("");
  const [audiences, setAudiences] = useState("scaivault");
  const [jwksUrl, setJwksUrl] = useState("");
  const [conditions, setConditions] = useState("");
  const [identity, setIdentity] = useState("");
  const [scopes, setScopes] = useState("secrets:read");
  const [paths, setPaths] = useState("");
  const [maxTtl, setMaxTtl] = useState("1h");
  const [jwt, setJwt] = useState("");
  const rows: TrustLike[] = rowsOf(trusts.data, "trusts");
  const decoded = jwt.trim() ? decodeJwt(jwt) : null;

  const create = () =>
    action.run(
      () =>
        post("/v1/auth/trusts", {
          name, issuer, audiences: list(audiences), jwks_url: jwksUrl || undefined, max_ttl: maxTtl || undefined,
          rules: [{ conditions: parseConditions(conditions), identity_id: identity, scopes: list(scopes), allowed_paths: paths ? list(paths) : undefined }],
        }),
      (t: any) => `Trust ${t.name} created`,
    );
  return (
    <section>
      <h1>Token exchange</h1>
      <p class="muted">Workloads trade a token from a trusted issuer (GitHub Actions, Kubernetes, a cloud) for a short-lived vault token, by rules on its claims.</p>
      <FormCard title="Create a trust" scope="admin" error={action.error} onSubmit={create}>
        <Field label="Name" value={name} onValue={setName} required />
        <Field label="Issuer" value={issuer} onValue={setIssuer} required placeholder="https://token.actions.githubusercontent.com" hint="https, or http on a loopback host." />
        <Field label="Audiences" value={audiences} onValue={setAudiences} required hint="Separated by spaces or commas." />
        <Field label="JWKS URL (empty: the issuer's discovery)" value={jwksUrl} onValue={setJwksUrl} />
        <Field label="Maximum token lifetime" value={maxTtl} onValue={setMaxTtl} />
        <fieldset>
          <legend>Rule</legend>
          <label>
            Conditions (one claim=pattern a line; * matches any run){" "}
            <textarea rows={3} value={conditions} required onInput={(e) => setConditions((e.target as HTMLTextAreaElement).value)} placeholder="repository=acme/api" />
          </label>
          <Field label="Identity" value={identity} onValue={setIdentity} required placeholder="sa:ci-deployer" />
          <Field label="Scopes" value={scopes} onValue={setScopes} required hint="Never admin; only scopes you hold." />
          <Field label="Allowed paths (optional)" value={paths} onValue={setPaths} placeholder="app/**" />
        </fieldset>
      </FormCard>
      <ErrorBox error={trusts.error} />
      <Table caption="Trusts" rows={rows} rowKey={(t) => t.id} empty="No trusts yet." columns={[
        ["Name", (t) => t.name], ["Issuer", (t) => t.issuer], ["Audiences", (t) => t.audiences.join(", ")],
        ["Rules", (t) => (
          <ul class="list">
            {t.rules.map((r, i) => (
              <li key={i}>
                {Object.entries(r.conditions).map(([c, p]) => `${c}=${Array.isArray(p) ? p.join("|") : p}`).join(", ")} → {r.identity_id} ({r.scopes.join(" ")})
              </li>
            ))}
          </ul>
        )],
        ["State", (t) => <ActionButton scope="admin" label={t.enabled ? "Disable" : "Enable"} name={`${t.enabled ? "Disable" : "Enable"} ${t.name}`} onClick={() => void action.run(() => patch(`/v1/auth/trusts/${t.id}`, { enabled: !t.enabled }), () => `${t.name} ${t.enabled ? "disabled" : "enabled"}`)} />],
        ["Action", (t) => <ActionButton scope="admin" danger label="Delete" name={`Delete ${t.name}`} onClick={() => void action.run(() => del(`/v1/auth/trusts/${t.id}`), () => `Trust ${t.name} deleted`)} />],
      ]} />
      <Section title="Try a token">
        <p class="muted">Decoded here in the browser, not verified and not sent anywhere: shows which rules' conditions hold.</p>
        <label>
          JWT <textarea rows={3} value={jwt} onInput={(e) => setJwt((e.target as HTMLTextAreaElement).value)} />
        </label>
        {decoded && "error" in decoded ? <p class="error" role="alert">{decoded.error}</p> : null}
        {decoded && "claims" in decoded ? (
          <>
            <pre class="token" aria-label="Claims">{JSON.stringify(decoded.claims, null, 2)}</pre>
            <Table caption="Rules for this token" rows={checkRules(decoded.claims, rows)} rowKey={(c) => `${c.trust}-${c.rule}`} empty="No trusts to check." columns={[
              ["Trust", (c) => c.trust], ["Rule", (c) => c.rule], ["Identity", (c) => c.identity_id], ["Holds", (c) => (c.holds ? <span class="allowed">yes</span> : <span class="denied">no: {c.failed.join(", ")}</span>)],
            ]} />
          </>
        ) : null}
      </Section>
    </section>
  );
}
