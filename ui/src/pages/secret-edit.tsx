import { useLocation } from "preact-iso";
import { useState } from "preact/hooks";
import { ApiError, put, secretUrl } from "../api";
import { Dialog } from "../components/dialog";
import { ErrorBox } from "../components/error";
import { announce } from "../components/live";

interface Row {
  key: string;
  value: string;
}

const toRows = (data: Record<string, unknown>): Row[] => Object.entries(data).map(([key, value]) => ({ key, value: typeof value === "string" ? value : JSON.stringify(value) }));

/**
 * Create (cas 0) or edit (cas = the current version) a secret: key/value rows or raw JSON.
 * Metadata (description, tags) is written with it; the metadata PATCH is the API's, not used here.
 */
export function SecretEditor(props: { path?: string; initial?: Record<string, unknown>; cas?: number; metadata?: any; onClose: () => void; onSaved: () => void }) {
  const { route } = useLocation();
  const [path, setPath] = useState(props.path ?? "");
  const [rows, setRows] = useState<Row[]>(props.initial ? toRows(props.initial) : [{ key: "", value: "" }]);
  const [mode, setMode] = useState<"rows" | "json">("rows");
  const [json, setJson] = useState(JSON.stringify(props.initial ?? {}, null, 2));
  const [description, setDescription] = useState(props.metadata?.description ?? "");
  const [tags, setTags] = useState((props.metadata?.tags ?? []).join(", "));
  const [error, setError] = useState<unknown>(null);
  const [jsonError, setJsonError] = useState("");

  const setRow = (index: number, field: keyof Row, value: string) => setRows(rows.map((row, i) => (i === index ? { ...row, [field]: value } : row)));
  const data = (): Record<string, unknown> | null => {
    if (mode === "json") {
      try {
        const parsed = JSON.parse(json);
        if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("must be a JSON object");
        setJsonError("");
        return parsed;
      } catch (caught) {
        setJsonError((caught as Error).message);
        return null;
      }
    }
    return Object.fromEntries(rows.filter((row) => row.key !== "").map((row) => [row.key, row.value]));
  };
  const submit = async (event: Event) => {
    event.preventDefault();
    const body = data();
    if (!body) return;
    try {
      const metadata = { ...(props.metadata ?? {}), description: description || undefined, tags: tags.split(",").map((t: string) => t.trim()).filter(Boolean) };
      const saved = await put(secretUrl(path), { data: body, metadata, options: { cas: props.cas ?? 0 } });
      announce(`Saved ${path}, version ${saved.version}`);
      props.onSaved();
      if (!props.path) route(`/ui/secrets/${path}`);
    } catch (caught) {
      setError(caught);
    }
  };
  const fields = error instanceof ApiError ? ((error.body.details?.fields as Record<string, string>) ?? {}) : {};
  return (
    <Dialog title={props.path ? `Edit ${props.path}` : "Create a secret"} onClose={props.onClose}>
      <form onSubmit={submit}>
        {props.path ? null : (
          <label>
            Path <input value={path} onInput={(e) => setPath((e.target as HTMLInputElement).value)} required aria-invalid={error instanceof ApiError && error.code === "invalid_path"} />
          </label>
        )}
        <div role="group" aria-label="Editor mode" class="tabs">
          <button type="button" aria-pressed={mode === "rows"} onClick={() => setMode("rows")}>
            Fields
          </button>
          <button
            type="button"
            aria-pressed={mode === "json"}
            onClick={() => {
              setJson(JSON.stringify(Object.fromEntries(rows.filter((r) => r.key).map((r) => [r.key, r.value])), null, 2));
              setMode("json");
            }}
          >
            JSON
          </button>
        </div>
        {mode === "rows" ? (
          <fieldset>
            <legend>Fields</legend>
            {rows.map((row, index) => (
              <div class="row" key={index}>
                <label>
                  Key {index + 1} <input value={row.key} onInput={(e) => setRow(index, "key", (e.target as HTMLInputElement).value)} />
                </label>
                <label>
                  Value {index + 1} <input type="password" autocomplete="off" value={row.value} onInput={(e) => setRow(index, "value", (e.target as HTMLInputElement).value)} />
                </label>
                <button type="button" onClick={() => setRows(rows.filter((_, i) => i !== index))} aria-label={`Remove field ${index + 1}`}>
                  Remove
                </button>
              </div>
            ))}
            <button type="button" onClick={() => setRows([...rows, { key: "", value: "" }])}>
              Add field
            </button>
          </fieldset>
        ) : (
          <label>
            Data (JSON object)
            <textarea rows={8} value={json} onInput={(e) => setJson((e.target as HTMLTextAreaElement).value)} aria-invalid={!!jsonError} aria-describedby="json-error" />
            <span id="json-error" class="field-error">
              {jsonError}
            </span>
          </label>
        )}
        <label>
          Description <input value={description} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Tags (comma separated) <input value={tags} onInput={(e) => setTags((e.target as HTMLInputElement).value)} />
        </label>
        {Object.entries(fields).map(([field, message]) => (
          <p class="field-error" key={field}>
            {field}: {message}
          </p>
        ))}
        <ErrorBox error={error} />
        <div class="actions">
          <button type="submit">{props.path ? "Save" : "Create"}</button>
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
