import { describe, expect, it } from "vitest";
import { VaultError } from "../http/errors.js";
import { renderAll, renderSql, splitStatements } from "./templating.js";

const hostile = { name: `x"; DROP TABLE items; --`, password: `p'; DROP TABLE items; --\\`, expiration: "2026-01-01 00:00:00+00" };

describe("dynamic: statement templating cannot be escaped by values", () => {
  it("postgresql: values inside quotes stay inside them, bare values are quoted whole", () => {
    const sql = renderSql(`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}'`, hostile, "postgresql");
    expect(sql).toBe(`CREATE ROLE "x""; DROP TABLE items; --" WITH LOGIN PASSWORD 'p''; DROP TABLE items; --\\'`);
    expect(splitStatements(sql, "postgresql")).toHaveLength(1);
    expect(renderSql("GRANT SELECT ON items TO {{name}}", hostile, "postgresql")).toBe(`GRANT SELECT ON items TO "x""; DROP TABLE items; --"`);
    expect(renderSql("ALTER ROLE x PASSWORD {{password}}", hostile, "postgresql")).toBe(`ALTER ROLE x PASSWORD 'p''; DROP TABLE items; --\\'`);
  });

  it("mysql: quotes doubled and backslashes escaped in literals, backticks for bare names", () => {
    const sql = renderSql(`CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'`, hostile, "mysql");
    expect(sql).toBe(`CREATE USER 'x"; DROP TABLE items; --'@'%' IDENTIFIED BY 'p''; DROP TABLE items; --\\\\'`);
    expect(splitStatements(sql, "mysql")).toHaveLength(1);
    expect(renderSql("DROP USER {{name}}", { name: "a`b" }, "mysql")).toBe("DROP USER `a``b`");
  });

  it("splits on ; outside quotes only", () => {
    expect(renderAll([`CREATE ROLE "{{name}}"; GRANT SELECT ON items TO "{{name}}"`], { name: "v_a;b" }, "postgresql")).toEqual([`CREATE ROLE "v_a;b"`, `GRANT SELECT ON items TO "v_a;b"`]);
  });

  it("refuses unknown placeholders, comments, dollar quoting, E'' strings and unclosed quotes as template errors", () => {
    for (const template of ["SELECT {{nope}}", "SELECT 1 -- {{name}}", "SELECT 1 /* x */", "DO $$ BEGIN END $$", "SELECT E'{{password}}'", `CREATE ROLE "{{name}}`]) {
      let error: unknown;
      try {
        renderSql(template, hostile, "postgresql");
      } catch (e) {
        error = e;
      }
      expect(error, template).toBeInstanceOf(VaultError);
      expect((error as VaultError).code).toBe("invalid_config");
      expect((error as VaultError).details.reason).toBe("template");
    }
    expect(() => renderSql("SELECT 1 # {{name}}", hostile, "mysql")).toThrow(VaultError);
  });
});
