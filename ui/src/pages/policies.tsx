import { useLocation } from "preact-iso";
import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, del, get, post, put, query } from "../api";
import { ErrorBox } from "../components/error";
import { announce } from "../components/live";
import { missing, More, useLoad, when } from "../components/util";
import { emptyRule, fieldErrors, fromApi, parseJson, PERMISSIONS, toApi, type PolicyForm, type RuleForm } from "../logic/policy";
import { Simulator } from "./simulator";

function FieldError({ id, message }: { id: string; message?: string }) {
  return message ? (
    <span id={id} class="field-error">
      {message}
    </span>
  ) : null;
}

function RuleEditor({ rule, index, errors, onChange, onRemove }: { rule: RuleForm; index: number; errors: Record<string, string>; onChange: (rule: RuleForm) => void; onRemove: () => void }) {
  const err = (field: string) => errors[`rules.${index}.${field}`];
  const set = (patch: Partial<RuleForm>) => onChange({ ...rule, ...patch });
  const input = (field: keyof RuleForm, label: string, placeholder = "") => (
    <label>
      {label}{" "}
      <input
        value={rule[field] as string}
        placeholder={placeholder}
        aria-invalid={!!err(field)}
        aria-describedby={err(field) ? `r${index}-${field}-error` : undefined}
        onInput={(e) => set({ [field]: (e.target as HTMLInputElement).value } as Partial<RuleForm>)}
      />
      <FieldError id={`r${index}-${field}-error`} message={err(field)} />
    </label>
  );
  return (
    <fieldset class="rule">
      <legend>Rule {index + 1}</legend>
      {errors[`rules.${index}`] ? (
        <p class="field-error" role="alert">
          {errors[`rules.${index}`]}
        </p>
      ) : null}
      {input("path_pattern", "Path pattern", "app/**")}
      <fieldset>
        <legend>Permissions</legend>
        {PERMISSIONS.map((permission) => (
          <label key={permission} class="inline">
            <input
              type="checkbox"
              checked={rule.permissions.includes(permission)}
              onChange={(e) => set({ permissions: (e.target as HTMLInputElement).checked ? [...rule.permissions, permission] : rule.permissions.filter((p) => p !== permission) })}
            />{" "}
            {permission}
          </label>
        ))}
        <FieldError id={`r${index}-permissions-error`} message={err("permissions")} />
      </fieldset>
      <label>
        Effect{" "}
        <select value={rule.effect} onChange={(e) => set({ effect: (e.target as HTMLSelectElement).value as "allow" | "deny" })}>
          <option value="allow">allow</option>
          <option value="deny">deny</option>
        </select>
      </label>
      {input("ip_ranges", "IP ranges (CIDRs)", "10.0.0.0/8")}
      <label class="inline">
        <input type="checkbox" checked={rule.require_mfa} onChange={(e) => set({ require_mfa: (e.target as HTMLInputElement).checked })} /> Require MFA
      </label>
      <div class="row">
        {input("tw_start", "Window start", "08:00")}
        {input("tw_end", "Window end", "18:00")}
        {input("tw_timezone", "Time zone")}
        {input("tw_days", "Days", "mon, tue")}
      </div>
      <button type="button" onClick={onRemove}>
        Remove rule {index + 1}
      </button>
    </fieldset>
  );
}

function Bindings({ id }: { id: string }) {
  const list = useLoad(() => get(`/v1/policies/${id}/bindings`), [id]);
  const [identity, setIdentity] = useState("");
  const [expires, setExpires] = useState("");
  const [error, setError] = useState<unknown>(null);
  const bindings: any[] = list.data?.bindings ?? list.data?.data ?? [];
  const add = async (event: Event) => {
    event.preventDefault();
    try {
      const type = identity.startsWith("sa:") ? "service_account" : identity.startsWith("group:") ? "group" : identity.startsWith("system:") ? "system" : "user";
      await post(`/v1/policies/${id}/bindings`, { identity_type: type, identity_id: identity, ...(expires ? { expires_at: new Date(expires).toISOString() } : {}) });
      announce(`Bound ${identity}`);
      setIdentity("");
      setError(null);
      list.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  const remove = async (binding: any) => {
    try {
      await del(`/v1/policies/${id}/bindings/${binding.id}`);
      announce(`Removed the binding of ${binding.identity_id}`);
      list.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <section>
      <h2>Bindings</h2>
      <ErrorBox error={list.error ?? error} />
      <ul>
        {bindings.map((b) => (
          <li key={b.id}>
            {b.identity_id} {b.expires_at ? `(until ${when(b.expires_at)})` : ""}{" "}
            <button type="button" onClick={() => void remove(b)} aria-label={`Remove binding of ${b.identity_id}`} disabled={!!missing("policies:write")}>
              Remove
            </button>
          </li>
        ))}
      </ul>
      <form onSubmit={add} class="row">
        <label>
          Identity <input value={identity} onInput={(e) => setIdentity((e.target as HTMLInputElement).value)} placeholder="user:alice@example.com" required />
        </label>
        <label>
          Expires <input type="datetime-local" value={expires} onInput={(e) => setExpires((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" disabled={!!missing("policies:write")}>
          Add binding
        </button>
      </form>
    </section>
  );
}

function Editor({ id }: { id: string | null }) {
  const { route } = useLocation();
  const existing = useLoad(() => (id ? get(`/v1/policies/${id}`) : Promise.resolve(null)), [id]);
  const [form, setForm] = useState<PolicyForm>({ name: "", description: "", rules: [emptyRule()] });
  const [tab, setTab] = useState<"form" | "json">("form");
  const [json, setJson] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (existing.data) setForm(fromApi(existing.data));
  }, [existing.data]);
  const body = useMemo(() => toApi(form), [form]);
  const switchTab = (next: "form" | "json") => {
    if (next === "json") setJson(JSON.stringify(body, null, 2));
    else {
      const parsed = parseJson(json);
      if ("error" in parsed) return setErrors({ json: parsed.error });
      setForm(parsed.form);
    }
    setErrors({});
    setTab(next);
  };
  const save = async (event: Event) => {
    event.preventDefault();
    let payload = body;
    if (tab === "json") {
      const parsed = parseJson(json);
      if ("error" in parsed) return setErrors({ json: parsed.error });
      payload = toApi(parsed.form);
    }
    try {
      const saved = id ? await put(`/v1/policies/${id}`, payload) : await post("/v1/policies", payload);
      setErrors({});
      setError(null);
      announce(`Saved policy ${saved.name}`);
      if (!id) route(`/ui/policies/${saved.id}`);
    } catch (caught) {
      setError(caught);
      if (caught instanceof ApiError) setErrors(fieldErrors(caught.body));
    }
  };
  if (existing.error) return <ErrorBox error={existing.error} />;
  return (
    <div>
      <h2>{id ? `Policy ${form.name || id}` : "New policy"}</h2>
      <form onSubmit={save}>
        <label>
          Name <input value={form.name} aria-invalid={!!errors.name} aria-describedby={errors.name ? "name-error" : undefined} onInput={(e) => setForm({ ...form, name: (e.target as HTMLInputElement).value })} />
          <FieldError id="name-error" message={errors.name} />
        </label>
        <label>
          Description <input value={form.description} onInput={(e) => setForm({ ...form, description: (e.target as HTMLInputElement).value })} />
        </label>
        <div role="group" aria-label="Editor view" class="tabs">
          <button type="button" aria-pressed={tab === "form"} onClick={() => switchTab("form")}>
            Rules
          </button>
          <button type="button" aria-pressed={tab === "json"} onClick={() => switchTab("json")}>
            Raw JSON
          </button>
        </div>
        {tab === "form" ? (
          <div>
            {form.rules.map((rule, index) => (
              <RuleEditor
                key={index}
                rule={rule}
                index={index}
                errors={errors}
                onChange={(next) => setForm({ ...form, rules: form.rules.map((r, i) => (i === index ? next : r)) })}
                onRemove={() => setForm({ ...form, rules: form.rules.filter((_, i) => i !== index) })}
              />
            ))}
            <button type="button" onClick={() => setForm({ ...form, rules: [...form.rules, emptyRule()] })}>
              Add rule
            </button>
          </div>
        ) : (
          <label>
            Policy JSON
            <textarea rows={14} value={json} aria-invalid={!!errors.json} aria-describedby="json-error" onInput={(e) => setJson((e.target as HTMLTextAreaElement).value)} />
            <FieldError id="json-error" message={errors.json} />
          </label>
        )}
        <ErrorBox error={error} />
        <div class="actions">
          <button type="submit" disabled={!!missing("policies:write")} title={missing("policies:write")}>
            {id ? "Save" : "Create"}
          </button>
        </div>
      </form>
      {id ? <Bindings id={id} /> : null}
    </div>
  );
}

export function PoliciesPage({ id }: { id: string }) {
  const [cursor, setCursor] = useState<string | null>(null);
  const [items, setItems] = useState<any[]>([]);
  const list = useLoad(() => get(`/v1/policies${query({ limit: 100, cursor })}`), [cursor]);
  useEffect(() => {
    if (list.data) setItems((old) => (cursor ? [...old, ...list.data.policies] : list.data.policies));
  }, [list.data]);
  return (
    <section class="split">
      <div class="pane">
        <h1>Policies</h1>
        <a href="/ui/policies/new">New policy</a>
        <ErrorBox error={list.error} />
        <ul class="list">
          {items.map((p) => (
            <li key={p.id}>
              <a href={`/ui/policies/${p.id}`} aria-current={p.id === id ? "page" : undefined}>
                {p.name}
              </a>{" "}
              <span class="muted">{p.id}</span>
            </li>
          ))}
        </ul>
        <More hasMore={!!list.data?.has_more} onMore={() => setCursor(list.data.cursor)} />
      </div>
      <div class="pane detail">
        <Editor key={id} id={id && id !== "new" ? id : null} />
        <Simulator />
      </div>
    </section>
  );
}
