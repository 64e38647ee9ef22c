import { useLocation } from "preact-iso";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, del, get, post, put, secretUrl } from "../api";
import { Dialog } from "../components/dialog";
import { ErrorBox } from "../components/error";
import { announce } from "../components/live";
import { Facts, missing, useLoad, when } from "../components/util";
import { SecretEditor } from "./secret-edit";
import { MetadataEditor } from "./secret-metadata";

const REVEAL_MS = 60_000;

/** Values shown after "Reveal": dropped by "Hide", by leaving the page, or after 60 s. */
function useRevealed() {
  const [data, setData] = useState<Record<string, unknown> | null>(null);
  const timer = useRef<number | null>(null);
  const hide = () => {
    if (timer.current !== null) clearTimeout(timer.current);
    timer.current = null;
    setData(null);
  };
  const show = (values: Record<string, unknown>) => {
    hide();
    setData(values);
    timer.current = window.setTimeout(() => {
      setData(null);
      announce("Values hidden after 60 seconds");
    }, REVEAL_MS);
  };
  useEffect(() => hide, []);
  return { data, show, hide };
}

function Values({ data, onHide }: { data: Record<string, unknown>; onHide: () => void }) {
  const copy = async (key: string, value: unknown) => {
    try {
      await navigator.clipboard.writeText(typeof value === "string" ? value : JSON.stringify(value));
      announce(`Copied ${key}`);
    } catch {
      announce(`Copying ${key} is not allowed by this browser`);
    }
  };
  return (
    <div class="values">
      <table>
        <caption>Values</caption>
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">Value</th>
            <th scope="col">Action</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(data).map(([key, value]) => (
            <tr key={key}>
              <th scope="row">{key}</th>
              <td>
                <code data-testid="secret-value">{typeof value === "string" ? value : JSON.stringify(value)}</code>
              </td>
              <td>
                <button type="button" onClick={() => void copy(key, value)} aria-label={`Copy ${key}`}>
                  Copy
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button type="button" onClick={onHide}>
        Hide
      </button>
    </div>
  );
}

function DeleteDialog({ path, onClose, onDone }: { path: string; onClose: () => void; onDone: () => void }) {
  const [permanent, setPermanent] = useState(false);
  const [typed, setTyped] = useState("");
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      await del(secretUrl(path, permanent ? "?permanent=true" : ""));
      announce(permanent ? `Destroyed ${path}` : `Deleted ${path}`);
      onDone();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <Dialog title={`Delete ${path}?`} onClose={onClose}>
      <form onSubmit={submit}>
        <p>
          A deletion can be undone for 30 days. Path: <code>{path}</code>
        </p>
        <label>
          <input type="checkbox" checked={permanent} onChange={(e) => setPermanent((e.target as HTMLInputElement).checked)} /> Delete permanently (every version, no undo)
        </label>
        {permanent ? (
          <label>
            Type the path to confirm <input value={typed} onInput={(e) => setTyped((e.target as HTMLInputElement).value)} />
          </label>
        ) : null}
        <ErrorBox error={error} />
        <div class="actions">
          <button type="submit" class="danger" disabled={permanent && typed !== path}>
            Delete
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function SecretDetail({ path, onChanged }: { path: string; onChanged: () => void }) {
  const { route } = useLocation();
  const meta = useLoad(() => get(secretUrl(path, "/metadata")), [path]);
  const versions = useLoad(() => get(secretUrl(path, "/versions")), [path, meta.data?.version]);
  const revealed = useRevealed();
  const [error, setError] = useState<unknown>(null);
  const [dialog, setDialog] = useState<null | "delete" | "edit" | "metadata">(null);
  const [editData, setEditData] = useState<Record<string, unknown> | null>(null);

  const act = async (work: () => Promise<void>) => {
    setError(null);
    try {
      await work();
    } catch (caught) {
      setError(caught);
    }
  };
  const reveal = () =>
    act(async () => {
      const secret = await get(secretUrl(path));
      revealed.show(secret.data);
      announce(`Revealed ${Object.keys(secret.data).length} fields of ${path}`);
    });
  const restore = (version: number) =>
    act(async () => {
      const old = await get(secretUrl(path, `?version=${version}`));
      const current = meta.data.version;
      const saved = await put(secretUrl(path), { data: old.data, options: { cas: current } });
      announce(`Restored version ${version} as version ${saved.version}`);
      revealed.hide();
      meta.reload();
    });
  const edit = () =>
    act(async () => {
      const secret = await get(secretUrl(path));
      setEditData(secret.data);
      setDialog("edit");
    });
  const undelete = () =>
    act(async () => {
      await post(secretUrl(path, "/undelete"));
      announce(`Undeleted ${path}`);
      meta.reload();
      onChanged();
    });
  const rotate = () =>
    act(async () => {
      const answer = await post(secretUrl(path, "/rotate"));
      announce(answer.action === "rotated" ? `Rotated: version ${answer.version}` : "Rotation is due now: write the new value");
      meta.reload();
    });

  const deleted = meta.error instanceof ApiError && meta.error.body.details?.deleted === true;
  if (deleted) {
    const until = (meta.error as ApiError).body.details.recoverable_until as string;
    return (
      <div>
        <h2>{path}</h2>
        <p>This secret is deleted; it can be recovered until {when(until)}.</p>
        <button type="button" onClick={() => void undelete()} disabled={!!missing("secrets:delete")}>
          Undelete
        </button>
        <ErrorBox error={error} />
      </div>
    );
  }
  if (meta.error) return <ErrorBox error={meta.error} />;
  if (!meta.data) return <p>Loading…</p>;
  const m = meta.data;
  return (
    <div>
      <h2>{path}</h2>
      <Facts
        items={[
          ["Type", m.secret_type],
          ["Version", m.version],
          ["Description", m.metadata?.description],
          ["Tags", (m.metadata?.tags ?? []).join(", ")],
          ["Owner", m.metadata?.owner],
          ["Created", when(m.created_at)],
          ["Updated", when(m.updated_at)],
          ["Expires", when(m.expires_at)],
          ["Rotation", m.rotation ? `${m.rotation.state}, next ${when(m.rotation.next_rotation_at)}` : "none"],
        ]}
      />
      <div class="actions">
        {revealed.data ? null : (
          <button type="button" onClick={() => void reveal()} disabled={!!missing("secrets:read")} title={missing("secrets:read")}>
            Reveal
          </button>
        )}
        <button type="button" onClick={() => void edit()} disabled={!!missing("secrets:write")} title={missing("secrets:write")}>
          Edit
        </button>
        <button type="button" onClick={() => setDialog("metadata")} disabled={!!missing("secrets:write")} title={missing("secrets:write")}>
          Edit metadata
        </button>
        <button type="button" onClick={() => setDialog("delete")} disabled={!!missing("secrets:delete")} title={missing("secrets:delete")}>
          Delete
        </button>
        <button type="button" onClick={() => void rotate()} disabled={!!missing("secrets:rotate") || !m.rotation_policy_id} title={m.rotation_policy_id ? missing("secrets:rotate") : "No rotation policy is assigned"}>
          Rotate now
        </button>
      </div>
      <ErrorBox error={error} />
      {revealed.data ? <Values data={revealed.data} onHide={revealed.hide} /> : null}
      <h3>Versions</h3>
      {versions.error ? <ErrorBox error={versions.error} /> : null}
      <table>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">State</th>
            <th scope="col">Created</th>
            <th scope="col">By</th>
            <th scope="col">Action</th>
          </tr>
        </thead>
        <tbody>
          {(versions.data?.versions ?? []).map((v: any) => (
            <tr key={v.version}>
              <td>{v.version}</td>
              <td>{v.state}</td>
              <td>{when(v.created_at)}</td>
              <td>{v.created_by ?? "—"}</td>
              <td>
                {v.version !== m.version && v.state !== "destroyed" && v.state !== "expired" ? (
                  <button type="button" onClick={() => void restore(v.version)} aria-label={`Restore version ${v.version}`} disabled={!!missing("secrets:write")}>
                    Restore
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {dialog === "delete" ? (
        <DeleteDialog
          path={path}
          onClose={() => setDialog(null)}
          onDone={() => {
            setDialog(null);
            revealed.hide();
            meta.reload();
            onChanged();
          }}
        />
      ) : null}
      {dialog === "metadata" ? (
        <MetadataEditor
          path={path}
          metadata={m.metadata}
          onClose={() => setDialog(null)}
          onSaved={() => {
            setDialog(null);
            meta.reload();
          }}
        />
      ) : null}
      {dialog === "edit" && editData ? (
        <SecretEditor
          path={path}
          initial={editData}
          cas={m.version}
          metadata={m.metadata}
          onClose={() => {
            setDialog(null);
            setEditData(null);
          }}
          onSaved={() => {
            setDialog(null);
            setEditData(null);
            revealed.hide();
            meta.reload();
            onChanged();
            route(`/ui/secrets/${path}`);
          }}
        />
      ) : null}
    </div>
  );
}
