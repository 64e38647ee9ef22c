import { useState } from "preact/hooks";
import { del, get, post } from "../api";
import { ShowOnce } from "../components/kit";
import { ErrorBox } from "../components/error";
import { announce } from "../components/live";
import { can, useLoad, when } from "../components/util";
import { session } from "../session";

/** Access → Personal tokens: one's own tokens; admins also see the tenant's and issue service tokens. */
export function TokensPage() {
  const list = useLoad(() => get("/v1/auth/tokens?limit=100"), []);
  const own = session.value?.scopes ?? [];
  // Only the caller's own scopes are offered (the API refuses more anyway); admin is never offered.
  const offered = own.includes("admin")
    ? ["secrets:read", "secrets:write", "secrets:delete", "secrets:list", "secrets:rotate", "policies:read", "policies:write", "audit:read", "audit:export", "subscriptions:read", "subscriptions:write", "identity:read"]
    : own.filter((s) => s !== "admin");
  const [description, setDescription] = useState("");
  const [expires, setExpires] = useState("90d");
  const [scopes, setScopes] = useState<string[]>([]);
  const [identity, setIdentity] = useState("");
  const [shown, setShown] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const create = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      const body: Record<string, unknown> = { description: description || undefined, expires_in: expires || "90d", scopes };
      if (identity) Object.assign(body, { identity_id: identity, identity_type: identity.startsWith("sa:") ? "service_account" : "user" });
      const created = await post("/v1/auth/tokens", body);
      setShown(created.token);
      setDescription("");
      list.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  const revoke = async (id: string) => {
    try {
      await del(`/v1/auth/tokens/${id}`);
      announce(`Revoked ${id}`);
      list.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  const tokens: any[] = list.data?.data ?? list.data?.tokens ?? [];
  return (
    <section>
      <h1>Personal tokens</h1>
      <form onSubmit={create} class="card">
        <h2>Create a token</h2>
        <label>
          Description <input value={description} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Expires in <input value={expires} onInput={(e) => setExpires((e.target as HTMLInputElement).value)} aria-describedby="expires-hint" />
        </label>
        <span id="expires-hint" class="muted">
          A duration such as 90d or 12h.
        </span>
        <fieldset>
          <legend>Scopes (only your own are offered)</legend>
          {offered.map((scope) => (
            <label key={scope} class="inline">
              <input type="checkbox" checked={scopes.includes(scope)} onChange={(e) => setScopes((e.target as HTMLInputElement).checked ? [...scopes, scope] : scopes.filter((s) => s !== scope))} /> {scope}
            </label>
          ))}
        </fieldset>
        {can("admin") ? (
          <label>
            For identity (admins: a service token; empty for your own) <input value={identity} onInput={(e) => setIdentity((e.target as HTMLInputElement).value)} placeholder="sa:reporting" />
          </label>
        ) : null}
        <ErrorBox error={error} />
        <button type="submit">Create</button>
      </form>
      <h2>Tokens</h2>
      <ErrorBox error={list.error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Id</th>
            <th scope="col">Identity</th>
            <th scope="col">Kind</th>
            <th scope="col">Description</th>
            <th scope="col">Scopes</th>
            <th scope="col">Expires</th>
            <th scope="col">State</th>
            <th scope="col">Action</th>
          </tr>
        </thead>
        <tbody>
          {tokens.map((t) => (
            <tr key={t.id}>
              <td>{t.id}</td>
              <td>{t.identity_id}</td>
              <td>{t.kind ?? "—"}</td>
              <td>{t.description ?? "—"}</td>
              <td>{(t.scopes ?? []).join(" ")}</td>
              <td>{when(t.expires_at)}</td>
              <td>{t.revoked_at ? "revoked" : "active"}</td>
              <td>
                {t.revoked_at ? null : (
                  <button type="button" class="danger" onClick={() => void revoke(t.id)} aria-label={`Revoke ${t.id}`}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown ? <ShowOnce title="Your new token" warning="Copy it now: it is shown only this once and cannot be recovered." fields={[["Token", shown, "new-token"]]} onClose={() => setShown(null)} /> : null}
    </section>
  );
}
