import type { Dialect } from "./contract.js";

/**
 * `column` in a list bound as one JSON array parameter: one statement text whatever the list's
 * length (no per-count statement to plan), read along an index led by `column`. PostgreSQL's
 * `= ANY(ARRAY(…))` form is an index scan; its `IN (SELECT json_array_elements_text(?))` was
 * planned as a hash semi-join over the whole index.
 */
export function inJsonList(dialect: Dialect, column: string, type: "text" | "integer" = "text"): string {
  if (dialect !== "postgres") return `${column} IN (SELECT value FROM json_each(?))`;
  return type === "integer" ? `${column} = ANY(ARRAY(SELECT json_array_elements_text(?::json)::integer))` : `${column} = ANY(ARRAY(SELECT json_array_elements_text(?::json)))`;
}
