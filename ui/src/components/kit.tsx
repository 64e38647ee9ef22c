import type { ComponentChild, ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { ApiError } from "../api";
import { Dialog } from "./dialog";
import { ErrorBox } from "./error";
import { announce } from "./live";
import { missing } from "./util";

/**
 * The pieces every list page repeats: a labelled field, a form card whose submit is disabled with
 * the missing scope as its reason, a captioned table, an action runner (announce or show the API's
 * error), and a dialog that shows a one-time value (a token, a private key, credentials) until closed.
 */

/** A labelled text input (type password for anything secret: never echoed back into the DOM by us). */
export function Field({ label, value, onValue, type = "text", required, hint, placeholder }: { label: string; value: string; onValue: (value: string) => void; type?: string; required?: boolean; hint?: string; placeholder?: string }) {
  const [hintId] = useState(() => `hint-${Math.random().toString(36).slice(2)}`);
  return (
    <>
      <label>
        {label}{" "}
        <input type={type} value={value} required={required} placeholder={placeholder} autoComplete={type === "password" ? "new-password" : "off"} aria-describedby={hint ? hintId : undefined} onInput={(e) => onValue((e.target as HTMLInputElement).value)} />
      </label>
      {hint ? (
        <span id={hintId} class="muted">
          {hint}
        </span>
      ) : null}
    </>
  );
}

export function Select({ label, value, onValue, options }: { label: string; value: string; onValue: (value: string) => void; options: Array<string | [string, string]> }) {
  return (
    <label>
      {label}{" "}
      <select value={value} onChange={(e) => onValue((e.target as HTMLSelectElement).value)}>
        {options.map((o) => {
          const [v, text] = typeof o === "string" ? [o, o] : o;
          return (
            <option key={v} value={v}>
              {text}
            </option>
          );
        })}
      </select>
    </label>
  );
}

export function Check({ label, checked, onValue }: { label: string; checked: boolean; onValue: (value: boolean) => void }) {
  return (
    <label class="inline">
      <input type="checkbox" checked={checked} onChange={(e) => onValue((e.target as HTMLInputElement).checked)} /> {label}
    </label>
  );
}

/** A form card: heading, fields, the error of its last submit, and a submit button gated by `scope`. */
export function FormCard({ title, scope, submit = "Create", onSubmit, error, children, row }: { title: string; scope: string; submit?: string; onSubmit: () => unknown; error?: unknown; children: ComponentChildren; row?: boolean }) {
  const reason = missing(scope);
  return (
    <form
      class={row ? "card row" : "card"}
      aria-label={title}
      onSubmit={(e) => {
        e.preventDefault();
        void onSubmit();
      }}
    >
      <h2>{title}</h2>
      {children}
      <ErrorBox error={error} />
      <button type="submit" disabled={!!reason} title={reason}>
        {submit}
      </button>
      {reason ? <span class="muted"> {reason}</span> : null}
    </form>
  );
}

/** Runs a write: announces its result or keeps its error (code, message, request id) for an ErrorBox. */
export function useAction(after?: () => void): { error: unknown; busy: boolean; run: <T>(work: () => Promise<T>, message: (result: T) => string) => Promise<T | undefined>; clear: () => void } {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = async <T,>(work: () => Promise<T>, message: (result: T) => string): Promise<T | undefined> => {
    setError(null);
    setBusy(true);
    try {
      const result = await work();
      announce(message(result));
      after?.();
      return result;
    } catch (caught) {
      setError(caught);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, run, clear: () => setError(null) };
}

export type Column<T> = [header: string, cell: (row: T) => ComponentChild];

/** A table with a caption (its accessible name) and an empty-state row. */
export function Table<T>({ caption, rows, columns, rowKey, empty = "Nothing yet." }: { caption: string; rows: T[]; columns: Array<Column<T>>; rowKey: (row: T) => string; empty?: string }) {
  return (
    <table>
      <caption>{caption}</caption>
      <thead>
        <tr>
          {columns.map(([header]) => (
            <th key={header} scope="col">
              {header}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.length === 0 ? (
          <tr>
            <td colSpan={columns.length} class="muted">
              {empty}
            </td>
          </tr>
        ) : (
          rows.map((row) => (
            <tr key={rowKey(row)}>
              {columns.map(([header, cell]) => (
                <td key={header}>{cell(row)}</td>
              ))}
            </tr>
          ))
        )}
      </tbody>
    </table>
  );
}

/** A button gated by a scope: disabled with the reason (as its title) when the session lacks it. */
export function ActionButton({ scope, label, name, onClick, danger }: { scope: string; label: string; name?: string; onClick: () => void; danger?: boolean }) {
  const reason = missing(scope);
  return (
    <button type="button" class={danger ? "danger" : undefined} disabled={!!reason} title={reason} aria-label={name} onClick={onClick}>
      {label}
    </button>
  );
}

/**
 * A value shown only this once (a new token, a private key, generated credentials): in a dialog
 * with "Copy" per field and a warning; "Done" (or Escape) drops it from memory and the DOM.
 */
export function ShowOnce({ title, warning, fields, onClose }: { title: string; warning: string; fields: Array<[label: string, value: string, testId?: string]>; onClose: () => void }) {
  const copy = async (label: string, value: string) => {
    try {
      await navigator.clipboard.writeText(value);
      announce(`${label} copied`);
    } catch {
      announce("Copying is not allowed by this browser");
    }
  };
  return (
    <Dialog title={title} onClose={onClose}>
      <p class="warning">{warning}</p>
      {fields.map(([label, value, testId]) => (
        <div key={label} class="once">
          <h3>{label}</h3>
          <pre class="token" data-testid={testId ?? `once-${label}`} tabIndex={0} aria-label={label}>
            {value}
          </pre>
          <button type="button" onClick={() => void copy(label, value)} aria-label={`Copy ${label}`}>
            Copy
          </button>
        </div>
      ))}
      <div class="actions">
        <button type="button" onClick={onClose}>
          Done
        </button>
      </div>
    </Dialog>
  );
}

/** A list answer in any of the API's shapes ({data}, {users}, …), or []. */
export function rowsOf<T = any>(answer: any, key?: string): T[] {
  if (!answer) return [];
  if (key && Array.isArray(answer[key])) return answer[key];
  return Array.isArray(answer.data) ? answer.data : [];
}

/** True when the route is not in this vault (404 for an unknown route), so a page can say so. */
export function notBuilt(error: unknown): boolean {
  return error instanceof ApiError && error.status === 404 && (error.code === "route_not_found" || error.code === "not_found" || error.code === "http_404");
}

/** A page section with its own heading. */
export function Section({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <section aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

/** Tabs as links within a page family (PKI, Dynamic): the current one marked. */
export function SubNav({ label, current, items }: { label: string; current: string; items: Array<[string, string]> }) {
  return (
    <nav aria-label={label} class="subnav">
      <ul class="row">
        {items.map(([href, text]) => (
          <li key={href}>
            <a href={href} aria-current={current === href ? "page" : undefined}>
              {text}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}
