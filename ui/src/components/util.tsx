import { useCallback, useEffect, useState } from "preact/hooks";
import { session } from "../session";

/** Loads with `load` (again when `deps` change or `reload` is called); keeps the error for ErrorBox. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | null; error: unknown; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data: T | null; error: unknown; loading: boolean }>({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: null, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** Whether the session's scopes allow `scope` (`admin` allows all); the API still decides. */
export function can(scope: string): boolean {
  const scopes = session.value?.scopes ?? [];
  return scopes.includes("admin") || scopes.includes(scope);
}

export function missing(scope: string): string | undefined {
  return can(scope) ? undefined : `Needs the ${scope} scope`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  return iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** A `<dl>` of label → value, values as text. */
export function Facts({ items }: { items: Array<[string, unknown]> }) {
  return (
    <dl class="facts">
      {items.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value === null || value === undefined || value === "" ? "—" : typeof value === "object" ? JSON.stringify(value) : String(value)}</dd>
        </div>
      ))}
    </dl>
  );
}

/** "Load more" for the API's cursor lists. */
export function More({ hasMore, onMore }: { hasMore: boolean; onMore: () => void }) {
  return hasMore ? (
    <button type="button" onClick={onMore}>
      Load more
    </button>
  ) : null;
}
