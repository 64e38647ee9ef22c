import { useState } from "preact/hooks";
import { get, post } from "../api";
import { ErrorBox } from "../components/error";
import { announce } from "../components/live";
import { missing, useLoad, when } from "../components/util";
import { RotationHistory, SecretPolicies } from "./rotation-extra";

export function RotationPage() {
  const policies = useLoad(() => get("/v1/rotation/policies?limit=100"), []);
  const due = useLoad(() => get("/v1/rotation/due?within_hours=168&include_overdue=true"), []);
  const [name, setName] = useState("");
  const [interval, setInterval] = useState("30d");
  const [auto, setAuto] = useState(false);
  const [assign, setAssign] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const act = async (work: () => Promise<string>) => {
    setError(null);
    try {
      announce(await work());
      policies.reload();
      due.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <section>
      <h1>Rotation</h1>
      <form
        class="card row"
        aria-label="Create a rotation policy"
        onSubmit={(e) => {
          e.preventDefault();
          void act(async () => (await post("/v1/rotation/policies", { name, interval, auto_generate: auto }), `Rotation policy ${name} created`));
        }}
      >
        <label>
          Name <input value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} required />
        </label>
        <label>
          Interval <input value={interval} onInput={(e) => setInterval((e.target as HTMLInputElement).value)} />
        </label>
        <label class="inline">
          <input type="checkbox" checked={auto} onChange={(e) => setAuto((e.target as HTMLInputElement).checked)} /> Generate new values
        </label>
        <button type="submit" disabled={!!missing("admin")} title={missing("admin")}>
          Create
        </button>
      </form>
      <ErrorBox error={error ?? policies.error} />
      <h2>Policies</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Interval</th>
            <th scope="col">Secrets</th>
            <th scope="col">State</th>
            <th scope="col">Assign a secret</th>
          </tr>
        </thead>
        <tbody>
          {(policies.data?.data ?? []).map((p: any) => (
            <tr key={p.id}>
              <td>{p.name}</td>
              <td>{p.interval}</td>
              <td>{p.secrets_count}</td>
              <td>
                <button type="button" disabled={!!missing("admin")} onClick={() => void act(async () => (await post(`/v1/rotation/policies/${p.id}/${p.is_active ? "disable" : "enable"}`), `${p.name} ${p.is_active ? "disabled" : "enabled"}`))} aria-label={`${p.is_active ? "Disable" : "Enable"} ${p.name}`}>
                  {p.is_active ? "Disable" : "Enable"}
                </button>
              </td>
              <td>
                <form
                  class="row"
                  onSubmit={(e) => {
                    e.preventDefault();
                    void act(async () => (await post(`/v1/rotation/policies/${p.id}/secrets`, { secret_path: assign[p.id] ?? "" }), `Assigned ${assign[p.id]}`));
                  }}
                >
                  <label>
                    Secret path for {p.name} <input value={assign[p.id] ?? ""} onInput={(e) => setAssign({ ...assign, [p.id]: (e.target as HTMLInputElement).value })} />
                  </label>
                  <button type="submit" disabled={!!missing("admin")}>
                    Assign
                  </button>
                </form>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Due and overdue (next 7 days)</h2>
      <ErrorBox error={due.error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Secret</th>
            <th scope="col">Policy</th>
            <th scope="col">State</th>
            <th scope="col">Due</th>
            <th scope="col">Last rotated</th>
          </tr>
        </thead>
        <tbody>
          {(due.data?.data ?? []).map((d: any) => (
            <tr key={d.secret_path} class={d.overdue ? "overdue" : undefined}>
              <td>
                <a href={`/ui/secrets/${d.secret_path}`}>{d.secret_path}</a>
              </td>
              <td>{d.rotation_policy_name}</td>
              <td>{d.overdue ? "overdue" : d.state}</td>
              <td>{when(d.due_at)}</td>
              <td>{when(d.last_rotated_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <RotationHistory policies={policies.data?.data ?? []} />
      <SecretPolicies />
    </section>
  );
}
