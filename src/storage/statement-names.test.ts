import { describe, expect, it } from "vitest";
import { StatementNames } from "./statement-names.js";

describe("StatementNames: which statements PostgreSQL keeps prepared", () => {
  it("names a text on its second sighting, always with the same name, and distinct texts with distinct names", () => {
    const names = new StatementNames();
    const a = "SELECT n FROM items WHERE id = $1";
    const b = "UPDATE items SET n = $1 WHERE id = $2";
    expect(names.nameOf(a)).toBeUndefined();
    const first = names.nameOf(a);
    expect(first).toMatch(/^sv_\d+$/);
    expect(names.nameOf(a)).toBe(first);
    names.nameOf(b);
    const second = names.nameOf(b);
    expect(second).toMatch(/^sv_\d+$/);
    expect(second).not.toBe(first);
    expect(names.size).toBe(2);
  });

  it("never names more than its capacity, and forgets sightings rather than growing without bound", () => {
    const names = new StatementNames(3);
    const named: string[] = [];
    for (let i = 0; i < 10; i++) {
      const text = `SELECT ${i}`;
      names.nameOf(text);
      const name = names.nameOf(text);
      if (name) named.push(name);
    }
    expect(named).toEqual(["sv_1", "sv_2", "sv_3"]);
    expect(names.size).toBe(3);
    // Past capacity nothing new is named, and texts already named keep their names.
    expect(names.nameOf("SELECT 0")).toBe("sv_1");
    const sightings = new StatementNames(2);
    for (let i = 0; i < 100; i++) sightings.nameOf(`SELECT ${i}`);
    // Eight sightings at most (four times the capacity): the 100 texts did not all stay.
    expect(sightings.nameOf("SELECT 0")).toBeUndefined();
    expect(sightings.nameOf("SELECT 99")).toBe("sv_1");
  });

  it("leaves a statement whose result columns follow the table's (`*`) unnamed, and names COUNT(*)", () => {
    const names = new StatementNames();
    const star = ["SELECT * FROM t WHERE id = $1", "select c.* FROM t c", "SELECT a, b.* FROM t b", "INSERT INTO t (a) VALUES ($1) RETURNING *", "SELECT DISTINCT * FROM t"];
    for (const text of star) {
      names.nameOf(text);
      expect({ text, name: names.nameOf(text) }).toEqual({ text, name: undefined });
    }
    const count = "SELECT COUNT(*) AS n FROM t WHERE a = $1";
    names.nameOf(count);
    expect(names.nameOf(count)).toBe("sv_1");
  });
});
