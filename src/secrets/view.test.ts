import { expect, it } from "vitest";
import type { SecretRow } from "./store.js";
import { secretView } from "./view.js";

const row: SecretRow = {
  tenant_id: "tnt_a",
  path: "app/db",
  partner_id: "ptn_a",
  secret_type: "json",
  metadata: JSON.stringify({ description: "db", tags: ["prod"], owner: null, custom: { team: { name: "core" } } }),
  max_versions: 10,
  expires_in: null,
  expires_at: null,
  notify_before: null,
  rotation_policy_id: null,
  secret_policy_id: null,
  current_version: 2,
  created_at: Date.UTC(2026, 0, 1),
  created_by: null,
  updated_at: Date.UTC(2026, 0, 2),
  last_accessed_at: null,
  deleted_at: null,
  recoverable_until: null,
};

// The parsed metadata and dates are worked out once per row object and shared by every answer.
it("answers a row's metadata and dates from the row, shared and frozen", () => {
  const first = secretView(row);
  const second = secretView(row);
  expect(first.metadata).toEqual({ description: "db", tags: ["prod"], owner: null, custom: { team: { name: "core" } } });
  expect(second.metadata).toBe(first.metadata);
  expect(first.created_at).toBe("2026-01-01T00:00:00.000Z");
  // Shared between answers: a change would reach every later one, so it throws instead.
  expect(() => first.metadata.tags.push("leak")).toThrow(TypeError);
  expect(() => ((first.metadata.custom.team as { name: string }).name = "other")).toThrow(TypeError);
  expect(secretView(row).metadata.tags).toEqual(["prod"]);
});

it("sees a changed row, which is always a new object", () => {
  secretView(row);
  const touched = { ...row, last_accessed_at: Date.UTC(2026, 0, 3), metadata: JSON.stringify({ description: "new", tags: [], owner: "ops", custom: {} }) };
  const view = secretView(touched);
  expect(view.last_accessed_at).toBe("2026-01-03T00:00:00.000Z");
  expect(view.metadata).toEqual({ description: "new", tags: [], owner: "ops", custom: {} });
  expect(secretView(row).last_accessed_at).toBeNull();
});
