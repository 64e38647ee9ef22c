import { useState } from "preact/hooks";
import { del, get, patch, post, query } from "../api";
import { Dialog } from "../components/dialog";
import { ErrorBox } from "../components/error";
import { announce } from "../components/live";
import { missing, useLoad, when } from "../components/util";

const list = (text: string) => text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);

function WebhookDetail({ id }: { id: string }) {
  const [status, setStatus] = useState("");
  const hook = useLoad(() => get(`/v1/webhooks/${id}`), [id]);
  const deliveries = useLoad(() => get(`/v1/webhooks/${id}/deliveries${query({ status, limit: 50 })}`), [id, status]);
  const [error, setError] = useState<unknown>(null);
  const act = async (work: () => Promise<string>) => {
    setError(null);
    try {
      announce(await work());
      hook.reload();
      deliveries.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  if (hook.error) return <ErrorBox error={hook.error} />;
  const w = hook.data;
  return (
    <section>
      <h2>Webhook {w?.name ?? id}</h2>
      {w ? (
        <p>
          {w.url} · {w.enabled ? "enabled" : `disabled (${w.disabled_reason ?? ""})`} · events {w.events.join(", ")}
        </p>
      ) : null}
      <div class="actions">
        <button type="button" disabled={!!missing("admin")} onClick={() => void act(async () => (await post(`/v1/webhooks/${id}/test`), "Test event sent"))}>
          Send test
        </button>
        {w ? (
          <button type="button" disabled={!!missing("admin")} onClick={() => void act(async () => (await patch(`/v1/webhooks/${id}`, { enabled: !w.enabled }), w.enabled ? "Disabled" : "Enabled"))}>
            {w.enabled ? "Disable" : "Enable"}
          </button>
        ) : null}
      </div>
      <ErrorBox error={error ?? deliveries.error} />
      <h3>Deliveries</h3>
      <label>
        Status{" "}
        <select value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
          <option value="">any</option>
          <option value="pending">pending</option>
          <option value="success">success</option>
          <option value="failed">failed</option>
        </select>
      </label>{" "}
      <button type="button" onClick={deliveries.reload}>
        Refresh
      </button>
      <table>
        <thead>
          <tr>
            <th scope="col">Delivery</th>
            <th scope="col">Event</th>
            <th scope="col">Status</th>
            <th scope="col">Attempts</th>
            <th scope="col">Response</th>
            <th scope="col">Time</th>
            <th scope="col">Action</th>
          </tr>
        </thead>
        <tbody>
          {(deliveries.data?.deliveries ?? []).map((d: any) => (
            <tr key={d.id}>
              <td>{d.id}</td>
              <td>{d.event_type}</td>
              <td>{d.status}</td>
              <td>{d.attempts}</td>
              <td>{d.response_code ?? d.error ?? "—"}</td>
              <td>{when(d.timestamp)}</td>
              <td>
                <button type="button" aria-label={`Redeliver ${d.id}`} disabled={!!missing("admin")} onClick={() => void act(async () => (await post(`/v1/webhooks/${id}/deliveries/${d.id}/redeliver`), `Redelivery of ${d.id} queued`))}>
                  Redeliver
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function CreateWebhook({ onClose, onCreated }: { onClose: () => void; onCreated: (secret: string | null) => void }) {
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState("secret.*");
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      const created = await post("/v1/webhooks", { name, url, events: list(events) });
      onCreated(created.secret ?? null);
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <Dialog title="Create a webhook" onClose={onClose}>
      <form onSubmit={submit}>
        <label>
          Name <input value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} required />
        </label>
        <label>
          URL <input type="url" value={url} onInput={(e) => setUrl((e.target as HTMLInputElement).value)} required />
        </label>
        <label>
          Events <input value={events} onInput={(e) => setEvents((e.target as HTMLInputElement).value)} />
        </label>
        <ErrorBox error={error} />
        <div class="actions">
          <button type="submit">Create</button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function WebhooksPage({ id }: { id: string }) {
  const hooks = useLoad(() => get("/v1/webhooks?limit=100"), []);
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  return (
    <section class="split">
      <div class="pane">
        <h1>Webhooks</h1>
        <button type="button" onClick={() => setCreating(true)} disabled={!!missing("admin")} title={missing("admin")}>
          Create
        </button>
        <ErrorBox error={hooks.error} />
        <ul class="list">
          {(hooks.data?.webhooks ?? []).map((w: any) => (
            <li key={w.id}>
              <a href={`/ui/events/webhooks/${w.id}`} aria-current={w.id === id ? "page" : undefined}>
                {w.name}
              </a>{" "}
              <span class="muted">{w.enabled ? "enabled" : "disabled"}</span>
            </li>
          ))}
        </ul>
      </div>
      <div class="pane detail">{id ? <WebhookDetail key={id} id={id} /> : <p>Choose a webhook.</p>}</div>
      {creating ? (
        <CreateWebhook
          onClose={() => setCreating(false)}
          onCreated={(s) => {
            setCreating(false);
            setSecret(s);
            hooks.reload();
            announce("Webhook created");
          }}
        />
      ) : null}
      {secret ? (
        <Dialog title="Signing secret" onClose={() => setSecret(null)}>
          <p class="warning">Shown only this once: store it where your receiver can read it.</p>
          <code class="token">{secret}</code>
          <div class="actions">
            <button type="button" onClick={() => setSecret(null)}>
              Done
            </button>
          </div>
        </Dialog>
      ) : null}
    </section>
  );
}

function RecentEvents({ id }: { id: string }) {
  // A zero-timeout poll without ack: shows what is buffered and leaves it for the real consumer.
  const events = useLoad(() => get(`/v1/subscriptions/${id}/poll?timeout=0&max_events=20`), [id]);
  return (
    <div>
      <ErrorBox error={events.error} />
      <ul>
        {(events.data?.events ?? []).map((e: any) => (
          <li key={e.event_id}>
            {when(e.timestamp)} {e.event_type} {e.path ?? ""}
          </li>
        ))}
      </ul>
      <button type="button" onClick={events.reload}>
        Refresh events
      </button>
    </div>
  );
}

export function SubscriptionsPage() {
  const subs = useLoad(() => get("/v1/subscriptions?limit=100"), []);
  const [name, setName] = useState("");
  const [paths, setPaths] = useState("**");
  const [events, setEvents] = useState("secret.*");
  const [open, setOpen] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const create = async (event: Event) => {
    event.preventDefault();
    try {
      await post("/v1/subscriptions", { name, paths: list(paths), events: list(events), delivery: { type: "polling" } });
      announce(`Subscription ${name} created`);
      setName("");
      subs.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  const remove = async (id: string) => {
    try {
      await del(`/v1/subscriptions/${id}`);
      announce("Subscription deleted");
      subs.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <section>
      <h1>Subscriptions</h1>
      <form onSubmit={create} class="card row">
        <label>
          Name <input value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} required />
        </label>
        <label>
          Paths <input value={paths} onInput={(e) => setPaths((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Events <input value={events} onInput={(e) => setEvents((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" disabled={!!missing("subscriptions:write")}>
          Create
        </button>
      </form>
      <ErrorBox error={subs.error ?? error} />
      <ul class="list">
        {(subs.data?.data ?? []).map((s: any) => (
          <li key={s.id}>
            <strong>{s.name}</strong> {s.paths.join(", ")} · {s.events.join(", ")} · {s.delivery.type}{" "}
            <button type="button" aria-expanded={open === s.id} onClick={() => setOpen(open === s.id ? null : s.id)}>
              Recent events
            </button>{" "}
            <button type="button" class="danger" onClick={() => void remove(s.id)} aria-label={`Delete ${s.name}`}>
              Delete
            </button>
            {open === s.id && s.delivery.type === "polling" ? <RecentEvents id={s.id} /> : null}
          </li>
        ))}
      </ul>
    </section>
  );
}
