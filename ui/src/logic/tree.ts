/** The secrets tree (spec/console.md §4): pure logic, tested under Vitest (tree.test.ts). */

export interface TreeNode {
  /** The segment shown. */
  name: string;
  /** The full path of this node (no trailing slash). */
  path: string;
  /** A secret lives at exactly this path. */
  isSecret: boolean;
  /** Deeper paths exist under it (a folder, possibly also a secret). */
  hasChildren: boolean;
  depth: number;
}

/** One level of the tree under `prefix` ("" or "a/b/"), from the paths a listing returned. */
export function levelOf(prefix: string, paths: readonly string[], depth = 0): TreeNode[] {
  const byName = new Map<string, TreeNode>();
  for (const path of paths) {
    if (!path.startsWith(prefix) || path === prefix) continue;
    const rest = path.slice(prefix.length);
    const slash = rest.indexOf("/");
    const name = slash < 0 ? rest : rest.slice(0, slash);
    if (name === "") continue;
    const node = byName.get(name) ?? { name, path: prefix + name, isSecret: false, hasChildren: false, depth };
    if (slash < 0) node.isSecret = true;
    else node.hasChildren = true;
    byName.set(name, node);
  }
  return [...byName.values()].sort((a, b) => (a.hasChildren === b.hasChildren ? a.name.localeCompare(b.name) : a.hasChildren ? -1 : 1));
}

/** The rows shown, depth first: a node's children follow it when it is expanded. */
export function visibleRows(roots: readonly TreeNode[], children: ReadonlyMap<string, readonly TreeNode[]>, expanded: ReadonlySet<string>): TreeNode[] {
  const rows: TreeNode[] = [];
  const walk = (nodes: readonly TreeNode[]) => {
    for (const node of nodes) {
      rows.push(node);
      if (node.hasChildren && expanded.has(node.path)) walk(children.get(node.path) ?? []);
    }
  };
  walk(roots);
  return rows;
}

export type TreeAction =
  | { kind: "focus"; index: number }
  | { kind: "expand"; path: string }
  | { kind: "collapse"; path: string }
  | { kind: "open"; path: string }
  | { kind: "none" };

/** WAI-ARIA tree keyboard model: ↑ ↓ Home End move, → expands or enters, ← collapses or goes up, Enter opens. */
export function keyAction(rows: readonly TreeNode[], index: number, key: string, expanded: ReadonlySet<string>): TreeAction {
  const node = rows[index];
  if (!node) return rows.length ? { kind: "focus", index: 0 } : { kind: "none" };
  switch (key) {
    case "ArrowDown":
      return { kind: "focus", index: Math.min(rows.length - 1, index + 1) };
    case "ArrowUp":
      return { kind: "focus", index: Math.max(0, index - 1) };
    case "Home":
      return { kind: "focus", index: 0 };
    case "End":
      return { kind: "focus", index: rows.length - 1 };
    case "ArrowRight":
      if (!node.hasChildren) return { kind: "none" };
      if (!expanded.has(node.path)) return { kind: "expand", path: node.path };
      return rows[index + 1]?.depth === node.depth + 1 ? { kind: "focus", index: index + 1 } : { kind: "none" };
    case "ArrowLeft": {
      if (node.hasChildren && expanded.has(node.path)) return { kind: "collapse", path: node.path };
      for (let i = index - 1; i >= 0; i -= 1) if (rows[i].depth === node.depth - 1) return { kind: "focus", index: i };
      return { kind: "none" };
    }
    case "Enter":
    case " ":
      if (node.isSecret) return { kind: "open", path: node.path };
      return node.hasChildren ? (expanded.has(node.path) ? { kind: "collapse", path: node.path } : { kind: "expand", path: node.path }) : { kind: "none" };
    default:
      return { kind: "none" };
  }
}
