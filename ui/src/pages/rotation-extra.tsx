import { useState } from "preact/hooks";
import { del, get, post, query } from "../api";
import { ErrorBox } from "../components/error";
import { ActionButton, Field, FormCard, rowsOf, Section, Select, Table, useAction } from "../components/kit";
import { can, Facts, useLoad, when } from "../components/util";

/** A rotation policy's history (`GET /v1/rotation/policies/{id}/history`), narrowed to one secret if asked. */
export function RotationHistory({ policies }: { policies: Array<{ id: string; name: string }> }) {
  const [policy, setPolicy] = useState("");
  const [secret, setSecret] = useState("");
  const chosen = policy || policies[0]?.id || "";
  const history = useLoad(() => (chosen && can("audit:read") ? get(`/v1/rotation/policies/${encodeURIComponent(chosen)}/history${query({ limit: 200 })}`) : Promise.resolve({ data: [] })), [chosen]);
  const rows = rowsOf(history.data).filter((h: any) => !secret || h.secret_path === secret || h.secret_path.startsWith(`${secret}/`));
  return (
    <Section title="History">
      <div class="row">
        <Select label="Policy" value={chosen} onValue={setPolicy} options={policies.map((p) => [p.id, p.name] as [string, string])} />
        <Field label="Secret path (empty: all)" value={secret} onValue={setSecret} />
      </div>
      <ErrorBox error={history.error} />
      <Table caption="Rotation history" rows={rows} rowKey={(h: any) => h.id} empty={can("audit:read") ? "No rotations recorded." : "Rotation history needs the audit:read scope."} columns={[
        ["Secret", (h: any) => <a href={`/ui/secrets/${h.secret_path}`}>{h.secret_path}</a>], ["Status", (h: any) => h.status + (h.error ? `: ${h.error}` : "")], ["Trigger", (h: any) => h.trigger],
        ["Versions", (h: any) => `${h.old_version ?? "—"} → ${h.new_version ?? "—"}`], ["Generated", (h: any) => (h.auto_generated ? "yes" : "no")], ["Started", (h: any) => when(h.started_at)], ["Completed", (h: any) => when(h.completed_at)],
      ]} />
    </Section>
  );
}

/** Secret policies (how new values are generated): list, create, preview a sample, delete. */
export function SecretPolicies() {
  const list = useLoad(() => (can("admin") ? get("/v1/secret-policies?limit=100") : Promise.resolve({ data: [] })), []);
  const action = useAction(() => list.reload());
  const [name, setName] = useState("");
  const [type, setType] = useState("password");
  const [fields, setFields] = useState("password:password");
  const [preview, setPreview] = useState<{ name: string; data: Record<string, unknown> } | null>(null);
  const parsed = () => fields.split("\n").map((l) => l.trim()).filter(Boolean).map((line) => {
    const [field, generator] = line.split(":").map((s) => s.trim());
    return { name: field, generator: generator ?? "" };
  });
  return (
    <Section title="Secret policies">
      <FormCard title="Create a secret policy" scope="admin" error={action.error} onSubmit={() => action.run(() => post("/v1/secret-policies", { name, policy_type: type, fields: parsed() }), (p: any) => `Secret policy ${p.name} created`)}>
        <Field label="Policy name" value={name} onValue={setName} required />
        <Select label="Policy type" value={type} onValue={setType} options={["password", "api_key", "oauth_client", "ssh_key", "custom"]} />
        <label>
          Fields (one field:generator a line){" "}
          <textarea rows={3} value={fields} onInput={(e) => setFields((e.target as HTMLTextAreaElement).value)} />
        </label>
      </FormCard>
      <Table caption="Secret policies" rows={rowsOf(list.data)} rowKey={(p: any) => p.id} empty={can("admin") ? "No secret policies yet." : "Secret policies need the admin scope."} columns={[
        ["Name", (p: any) => p.name], ["Type", (p: any) => p.policy_type], ["Fields", (p: any) => p.fields.map((f: any) => `${f.name}:${f.generator}`).join(", ")], ["Active", (p: any) => (p.is_active ? "yes" : "no")],
        ["Actions", (p: any) => (
          <div class="row">
            <ActionButton scope="admin" label="Preview" name={`Preview ${p.name}`} onClick={async () => {
              const answer = await action.run(() => post(`/v1/secret-policies/${encodeURIComponent(p.id)}/preview`), () => `Sample of ${p.name} generated (nothing stored)`);
              if (answer) setPreview({ name: p.name, data: (answer as any).data ?? {} });
            }} />
            <ActionButton scope="admin" danger label="Delete" name={`Delete ${p.name}`} onClick={() => void action.run(() => del(`/v1/secret-policies/${encodeURIComponent(p.id)}`), () => `Secret policy ${p.name} deleted`)} />
          </div>
        )],
      ]} />
      {preview ? (
        <div class="card" data-testid="preview">
          <h3>Sample of {preview.name} (not stored)</h3>
          <Facts items={Object.entries(preview.data)} />
          <button type="button" onClick={() => setPreview(null)}>
            Hide
          </button>
        </div>
      ) : null}
    </Section>
  );
}
