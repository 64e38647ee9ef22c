import { useLocation } from "preact-iso";
import { useEffect, useRef, useState } from "preact/hooks";
import { get, query } from "../api";
import { ErrorBox } from "../components/error";
import { missing } from "../components/util";
import { keyAction, levelOf, visibleRows, type TreeNode } from "../logic/tree";
import { SecretDetail } from "./secret-detail";
import { SecretEditor } from "./secret-edit";

/** Every path under `prefix` the caller may list (following the cursor, up to a bound). */
async function listPaths(prefix: string, tag: string): Promise<string[]> {
  const paths: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 10; page += 1) {
    const answer: any = await get(`/v1/secrets${query({ prefix, tag, limit: 1000, cursor })}`);
    paths.push(...answer.data.map((item: { path: string }) => item.path));
    if (!answer.has_more) break;
    cursor = answer.cursor;
  }
  return paths;
}

/** The secrets tree (role=tree): each level is fetched when first expanded. */
function SecretTree({ filterPrefix, tag, selected }: { filterPrefix: string; tag: string; selected: string }) {
  const { route } = useLocation();
  const [roots, setRoots] = useState<TreeNode[]>([]);
  const [children, setChildren] = useState<Map<string, TreeNode[]>>(new Map());
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const [focus, setFocus] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const [loaded, setLoaded] = useState(false);
  const refs = useRef<Array<HTMLLIElement | null>>([]);
  // The row a key moved focus to, until it is rendered and focused. An index, not a flag: an effect
  // of an earlier render can run after the next key (effects wait for paint), and must then focus
  // the row that key chose, not the row its own render knew (that sent focus back up the tree).
  const pendingFocus = useRef<number | null>(null);

  const base = filterPrefix && !filterPrefix.endsWith("/") ? filterPrefix : filterPrefix;
  useEffect(() => {
    setLoaded(false);
    setChildren(new Map());
    setExpanded(new Set());
    listPaths(base, tag).then(
      (paths) => {
        // A prefix filter that ends mid-segment still shows whole segments from the last slash.
        const levelPrefix = base.slice(0, base.lastIndexOf("/") + 1);
        setRoots(levelOf(levelPrefix, paths, 0));
        setError(null);
        setLoaded(true);
      },
      (caught) => {
        setError(caught);
        setLoaded(true);
      },
    );
  }, [base, tag]);

  // Opening a deep link shows the secret's place in the tree: its ancestors are expanded once.
  useEffect(() => {
    if (!loaded || !selected) return;
    const segments = selected.split("/");
    const ancestors = segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join("/"));
    if (ancestors.every((path) => expanded.has(path))) return;
    let live = true;
    (async () => {
      const next = new Map(children);
      for (const [depth, path] of ancestors.entries()) {
        if (!next.has(path)) next.set(path, levelOf(`${path}/`, await listPaths(`${path}/`, tag), depth + 1));
      }
      if (!live) return;
      setChildren(next);
      setExpanded((old) => new Set([...old, ...ancestors]));
    })().catch(() => undefined);
    return () => {
      live = false;
    };
  }, [loaded, selected]);

  const rows = visibleRows(roots, children, expanded);
  useEffect(() => {
    const target = pendingFocus.current;
    if (target !== null && refs.current[target]) {
      refs.current[target]?.focus();
      pendingFocus.current = null;
    }
  }, [focus, rows.length]);

  const expand = async (node: TreeNode) => {
    if (!children.has(node.path)) {
      try {
        const paths = await listPaths(`${node.path}/`, tag);
        setChildren((old) => new Map(old).set(node.path, levelOf(`${node.path}/`, paths, node.depth + 1)));
      } catch (caught) {
        setError(caught);
        return;
      }
    }
    setExpanded((old) => new Set(old).add(node.path));
  };
  const collapse = (path: string) =>
    setExpanded((old) => {
      const next = new Set(old);
      next.delete(path);
      return next;
    });
  const open = (path: string) => route(`/ui/secrets/${path}`);

  const onKeyDown = (event: KeyboardEvent, index: number) => {
    const action = keyAction(rows, index, event.key, expanded);
    if (action.kind === "none") return;
    event.preventDefault();
    if (action.kind === "focus") {
      // Move focus now, not after the re-render: the next key (typed fast, or by a screen reader)
      // must reach the row it was meant for, not the one the state has not left yet.
      refs.current[action.index]?.focus();
      pendingFocus.current = action.index;
      setFocus(action.index);
    } else if (action.kind === "expand") void expand(rows[index]);
    else if (action.kind === "collapse") collapse(action.path);
    else open(action.path);
  };

  if (error) return <ErrorBox error={error} />;
  if (loaded && rows.length === 0) return <p>No secrets{filterPrefix || tag ? " match this filter" : " yet"}.</p>;
  return (
    <ul role="tree" aria-label="Secrets" class="tree">
      {rows.map((node, index) => (
        <li
          key={node.path}
          ref={(el) => {
            refs.current[index] = el;
          }}
          role="treeitem"
          aria-level={node.depth + 1}
          aria-expanded={node.hasChildren ? expanded.has(node.path) : undefined}
          aria-selected={node.path === selected}
          tabIndex={index === Math.min(focus, rows.length - 1) ? 0 : -1}
          class={`depth-${Math.min(node.depth, 9)}`}
          onKeyDown={(e) => onKeyDown(e, index)}
          onFocus={() => setFocus(index)}
          onClick={() => {
            setFocus(index);
            if (node.isSecret) open(node.path);
            else if (expanded.has(node.path)) collapse(node.path);
            else void expand(node);
          }}
        >
          <span aria-hidden="true" class="twisty">
            {node.hasChildren ? (expanded.has(node.path) ? "▾" : "▸") : "•"}
          </span>
          {node.name}
          {node.hasChildren && node.isSecret ? " (secret and folder)" : ""}
        </li>
      ))}
    </ul>
  );
}

export function SecretsPage({ path }: { path: string }) {
  const [prefix, setPrefix] = useState("");
  const [tag, setTag] = useState("");
  const [applied, setApplied] = useState({ prefix: "", tag: "" });
  const [creating, setCreating] = useState(false);
  const [generation, setGeneration] = useState(0);
  return (
    <section class="split">
      <div class="pane">
        <h1>Secrets</h1>
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            setApplied({ prefix, tag });
          }}
        >
          <label>
            Prefix <input value={prefix} onInput={(e) => setPrefix((e.target as HTMLInputElement).value)} placeholder="app/" />
          </label>
          <label>
            Tag <input value={tag} onInput={(e) => setTag((e.target as HTMLInputElement).value)} />
          </label>
          <button type="submit">Filter</button>
        </form>
        <button type="button" onClick={() => setCreating(true)} disabled={!!missing("secrets:write")} title={missing("secrets:write")}>
          Create
        </button>
        <SecretTree key={generation} filterPrefix={applied.prefix} tag={applied.tag} selected={path} />
      </div>
      <div class="pane detail">
        {path ? <SecretDetail key={path} path={path} onChanged={() => setGeneration((g) => g + 1)} /> : <p>Choose a secret in the tree.</p>}
      </div>
      {creating ? (
        <SecretEditor
          onClose={() => setCreating(false)}
          onSaved={() => {
            setCreating(false);
            setGeneration((g) => g + 1);
          }}
        />
      ) : null}
    </section>
  );
}
