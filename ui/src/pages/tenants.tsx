import { useState } from "preact/hooks";
import { get, post } from "../api";
import { ErrorBox } from "../components/error";
import { announce } from "../components/live";
import { useLoad, when } from "../components/util";
import { session, useSession } from "../session";

/** Partner admins: the partner's tenants, create, switch (calls then go to /v1/t/{tenant}/…). */
export function TenantsPage() {
  const s = useSession();
  const tenants = useLoad(() => get("/v1/identity/tenants?limit=100"), []);
  const [name, setName] = useState("");
  const [error, setError] = useState<unknown>(null);
  if (!s.isPartnerAdmin) {
    return (
      <section>
        <h1>Tenants</h1>
        <p>Only partner admins manage tenants.</p>
      </section>
    );
  }
  const create = async (event: Event) => {
    event.preventDefault();
    try {
      const created = await post("/v1/identity/tenants", { name });
      announce(`Tenant ${created.id} created`);
      setName("");
      tenants.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  const active = s.tenant ?? s.value?.tenant_id;
  return (
    <section>
      <h1>Tenants</h1>
      <form onSubmit={create} class="card row">
        <label>
          Name <input value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} required />
        </label>
        <button type="submit">Create</button>
      </form>
      <ErrorBox error={tenants.error ?? error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Id</th>
            <th scope="col">Name</th>
            <th scope="col">Created</th>
            <th scope="col">Action</th>
          </tr>
        </thead>
        <tbody>
          {(tenants.data?.data ?? []).map((t: any) => (
            <tr key={t.id}>
              <td>{t.id}</td>
              <td>{t.name}</td>
              <td>{when(t.created_at)}</td>
              <td>
                {t.id === active ? (
                  "current"
                ) : (
                  <button type="button" onClick={() => session.switchTenant(t.id)} aria-label={`Switch to ${t.name ?? t.id}`}>
                    Switch
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
