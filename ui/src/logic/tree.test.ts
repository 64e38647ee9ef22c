import { describe, expect, it } from "vitest";
import { keyAction, levelOf, visibleRows } from "./tree";

const PATHS = ["app/db/password", "app/db", "app/cache/url", "ops/pager", "zeta"];

describe("console tree: levels and keyboard", () => {
  it("builds one level per prefix, each segment once, folders first, a path that is both secret and folder marked so", () => {
    const roots = levelOf("", PATHS);
    expect(roots.map((n) => [n.name, n.isSecret, n.hasChildren])).toEqual([
      ["app", false, true],
      ["ops", false, true],
      ["zeta", true, false],
    ]);
    const app = levelOf("app/", PATHS, 1);
    expect(app.map((n) => [n.path, n.isSecret, n.hasChildren, n.depth])).toEqual([
      ["app/cache", false, true, 1],
      ["app/db", true, true, 1],
    ]);
    expect(levelOf("app/db/", PATHS, 2).map((n) => n.path)).toEqual(["app/db/password"]);
    expect(levelOf("nothing/", PATHS)).toEqual([]);
  });

  it("shows children only under expanded nodes and moves focus with the WAI-ARIA keys", () => {
    const roots = levelOf("", PATHS);
    const children = new Map([["app", levelOf("app/", PATHS, 1)]]);
    const collapsed = visibleRows(roots, children, new Set());
    expect(collapsed.map((n) => n.path)).toEqual(["app", "ops", "zeta"]);
    expect(keyAction(collapsed, 0, "ArrowRight", new Set())).toEqual({ kind: "expand", path: "app" });
    const expanded = new Set(["app"]);
    const rows = visibleRows(roots, children, expanded);
    expect(rows.map((n) => n.path)).toEqual(["app", "app/cache", "app/db", "ops", "zeta"]);
    expect(keyAction(rows, 0, "ArrowRight", expanded)).toEqual({ kind: "focus", index: 1 });
    expect(keyAction(rows, 0, "ArrowDown", expanded)).toEqual({ kind: "focus", index: 1 });
    expect(keyAction(rows, 0, "ArrowUp", expanded)).toEqual({ kind: "focus", index: 0 });
    expect(keyAction(rows, 2, "ArrowLeft", expanded)).toEqual({ kind: "focus", index: 0 });
    expect(keyAction(rows, 0, "ArrowLeft", expanded)).toEqual({ kind: "collapse", path: "app" });
    expect(keyAction(rows, 1, "End", expanded)).toEqual({ kind: "focus", index: 4 });
    expect(keyAction(rows, 4, "Home", expanded)).toEqual({ kind: "focus", index: 0 });
    expect(keyAction(rows, 4, "Enter", expanded)).toEqual({ kind: "open", path: "zeta" });
    expect(keyAction(rows, 4, "ArrowRight", expanded)).toEqual({ kind: "none" });
    expect(keyAction(rows, 3, "Enter", expanded)).toEqual({ kind: "expand", path: "ops" });
    expect(keyAction(rows, 0, "x", expanded)).toEqual({ kind: "none" });
  });
});
