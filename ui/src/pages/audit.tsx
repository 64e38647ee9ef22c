import { useState } from "preact/hooks";
import { get, post, query } from "../api";
import { ErrorBox } from "../components/error";
import { announce } from "../components/live";
import { Facts, missing, More, useLoad, when } from "../components/util";

const FILTERS = ["from", "to", "action", "identity_id", "path_prefix", "success", "source_ip", "request_id"] as const;
type Filters = Record<(typeof FILTERS)[number], string>;
const LABELS: Record<(typeof FILTERS)[number], string> = {
  from: "From",
  to: "To",
  action: "Action",
  identity_id: "Identity",
  path_prefix: "Path prefix",
  success: "Outcome",
  source_ip: "Source IP",
  request_id: "Request id",
};

/** Entries seen in lists, so the detail page of one opens without another query (there is no per-entry endpoint). */
const seen = new Map<string, any>();

function toIso(local: string): string {
  return local ? new Date(local).toISOString() : "";
}

function Entry({ id }: { id: string }) {
  const entry = seen.get(id);
  if (!entry) {
    return (
      <section>
        <h2>Entry {id}</h2>
        <p>
          Open the entry from the <a href="/ui/audit">audit list</a> (search by its request id).
        </p>
      </section>
    );
  }
  return (
    <section>
      <h2>Entry {id}</h2>
      <Facts items={Object.entries(entry).map(([key, value]) => [key, value])} />
      <a href="/ui/audit">Back to the list</a>
    </section>
  );
}

function Verify() {
  const [result, setResult] = useState<any>(null);
  const [error, setError] = useState<unknown>(null);
  const verify = async () => {
    setError(null);
    try {
      const answer = await get("/v1/audit/verify");
      setResult(answer);
      announce(answer.ok ? `Chain verified: ${answer.entries} entries` : `Chain broken at ${answer.first_bad_entry}`);
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <div class="card">
      <button type="button" onClick={() => void verify()} disabled={!!missing("audit:read")}>
        Verify chain
      </button>
      <ErrorBox error={error} />
      {result ? (
        <p data-testid="verify-result" class={result.ok ? "allowed" : "denied"}>
          {result.ok ? `Chain intact: ${result.entries} entries verified.` : `Chain broken (${result.reason}) at `}
          {result.ok ? null : <a href={`/ui/audit/${result.first_bad_entry}`}>{result.first_bad_entry}</a>}
        </p>
      ) : null}
    </div>
  );
}

function Exports() {
  const list = useLoad(() => get("/v1/audit/exports?limit=20"), []);
  const [format, setFormat] = useState("jsonl");
  const [directory, setDirectory] = useState("console");
  const [error, setError] = useState<unknown>(null);
  const start = async () => {
    setError(null);
    try {
      const now = new Date();
      const answer = await post("/v1/audit/export", { from: new Date(now.getTime() - 86_400_000).toISOString(), to: now.toISOString(), format, destination: { type: "file", path: directory } });
      announce(`Export ${answer.export_id} ${answer.status}`);
      list.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  const items: any[] = list.data?.data ?? list.data?.exports ?? [];
  return (
    <section class="card">
      <h2>Exports</h2>
      <label>
        Format{" "}
        <select value={format} onChange={(e) => setFormat((e.target as HTMLSelectElement).value)}>
          <option value="jsonl">jsonl</option>
          <option value="csv">csv</option>
        </select>
      </label>
      <label>
        Directory (under the export root) <input value={directory} onInput={(e) => setDirectory((e.target as HTMLInputElement).value)} />
      </label>{" "}
      <button type="button" onClick={() => void start()} disabled={!!missing("audit:export")} title={missing("audit:export")}>
        Export the last 24 hours
      </button>
      <button type="button" onClick={list.reload}>
        Refresh
      </button>
      <ErrorBox error={list.error ?? error} />
      <ul>
        {items.map((x) => (
          <li key={x.export_id ?? x.id}>
            {x.export_id ?? x.id}: {x.status} {x.records_exported ?? x.estimated_records ?? ""}
          </li>
        ))}
      </ul>
    </section>
  );
}

export function AuditPage({ id }: { id: string }) {
  const [form, setForm] = useState<Filters>({ from: "", to: "", action: "", identity_id: "", path_prefix: "", success: "", source_ip: "", request_id: "" });
  const [applied, setApplied] = useState<Filters>(form);
  const [cursor, setCursor] = useState<string | null>(null);
  const logs = useLoad(async () => {
    const answer = await get(`/v1/audit/logs${query({ ...applied, from: toIso(applied.from), to: toIso(applied.to), limit: 50, cursor })}`);
    for (const entry of answer.logs) seen.set(entry.id, entry);
    return answer;
  }, [applied, cursor]);
  if (id) return <Entry id={id} />;
  const set = (key: keyof Filters, value: string) => setForm({ ...form, [key]: value });
  return (
    <section>
      <h1>Audit</h1>
      <Verify />
      <form
        class="filters card"
        onSubmit={(e) => {
          e.preventDefault();
          setCursor(null);
          setApplied(form);
        }}
      >
        {FILTERS.map((key) =>
          key === "success" ? (
            <label key={key}>
              {LABELS[key]}{" "}
              <select value={form.success} onChange={(e) => set("success", (e.target as HTMLSelectElement).value)}>
                <option value="">any</option>
                <option value="true">success</option>
                <option value="false">failure</option>
              </select>
            </label>
          ) : (
            <label key={key}>
              {LABELS[key]} <input type={key === "from" || key === "to" ? "datetime-local" : "text"} value={form[key]} onInput={(e) => set(key, (e.target as HTMLInputElement).value)} />
            </label>
          ),
        )}
        <button type="submit">Apply filters</button>
      </form>
      <ErrorBox error={logs.error} />
      <table>
        <caption>Entries, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Action</th>
            <th scope="col">Identity</th>
            <th scope="col">Path</th>
            <th scope="col">Outcome</th>
            <th scope="col">Entry</th>
          </tr>
        </thead>
        <tbody>
          {(logs.data?.logs ?? []).map((entry: any) => (
            <tr key={entry.id}>
              <td>{when(entry.timestamp)}</td>
              <td>{entry.action}</td>
              <td>{entry.identity_id ?? "—"}</td>
              <td>{entry.secret_path ?? "—"}</td>
              <td>{entry.success ? "success" : `failure ${entry.extra_data?.error_code ?? ""}`}</td>
              <td>
                <a href={`/ui/audit/${entry.id}`}>{entry.id}</a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <More hasMore={!!logs.data?.has_more} onMore={() => setCursor(logs.data.cursor)} />
      <Exports />
    </section>
  );
}
