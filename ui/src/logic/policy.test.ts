import { describe, expect, it } from "vitest";
import { emptyRule, fieldErrors, fromApi, parseJson, toApi } from "./policy";

describe("console policy editor model", () => {
  it("round-trips rules with conditions between the form and the API body", () => {
    const api = {
      name: "ops",
      description: "ops team",
      rules: [
        { path_pattern: "ops/**", permissions: ["read", "list"], effect: "allow", conditions: { ip_ranges: ["10.0.0.0/8", "192.168.0.0/16"], require_mfa: true, time_window: { start: "08:00", end: "18:00", timezone: "Europe/Amsterdam", days: ["mon", "tue"] } } },
        { path_pattern: "ops/secret", permissions: ["read"], effect: "deny" },
      ],
    };
    const form = fromApi(api);
    expect(form.rules[0].ip_ranges).toBe("10.0.0.0/8, 192.168.0.0/16");
    expect(form.rules[1].effect).toBe("deny");
    expect(toApi(form)).toEqual(api);
    // An empty rule has no conditions at all (not empty ones the API would reject).
    expect(toApi({ name: "x", description: "", rules: [{ ...emptyRule(), path_pattern: "a/*" }] }).rules).toEqual([{ path_pattern: "a/*", permissions: ["read"], effect: "allow" }]);
  });

  it("parses the JSON tab, reporting syntax errors and non-objects", () => {
    expect(parseJson('{"name":"n","rules":[]}')).toEqual({ form: { name: "n", description: "", rules: [] } });
    expect("error" in parseJson("{nope")).toBe(true);
    expect(parseJson("[]")).toEqual({ error: "must be a JSON object" });
  });

  it("places API errors on fields by code and details, never by message text", () => {
    expect(fieldErrors({ code: "invalid_glob", message: "rules[1].path_pattern: bad", details: { rule_index: 1, path_pattern: "a**" } })).toEqual({ "rules.1.path_pattern": "rules[1].path_pattern: bad" });
    expect(fieldErrors({ code: "invalid_policy", message: "needs a permission", details: { rule_index: 0 } })).toEqual({ "rules.0": "needs a permission" });
    expect(fieldErrors({ code: "validation_error", message: "x", details: { fields: { name: "is required", "rules.0.permissions": "must be an array" } } })).toEqual({ name: "is required", "rules.0.permissions": "must be an array" });
    expect(fieldErrors({ code: "already_exists", message: "taken", details: { name: "ops" } })).toEqual({ name: "taken" });
    expect(fieldErrors({ code: "access_denied", message: "grant exceeds", details: { reason: "grant_exceeds_caller" } })).toEqual({ form: "grant exceeds" });
  });
});
