/** The policy editor's model (spec/console.md §4): rules as a form and as JSON, API errors placed on fields. */

export const PERMISSIONS = ["read", "write", "delete", "list", "rotate", "admin"] as const;

export interface RuleForm {
  path_pattern: string;
  permissions: string[];
  effect: "allow" | "deny";
  /** Comma or newline separated CIDRs. */
  ip_ranges: string;
  require_mfa: boolean;
  /** "08:00", "18:00", an IANA zone and days; empty start means no time window. */
  tw_start: string;
  tw_end: string;
  tw_timezone: string;
  tw_days: string;
}

export interface PolicyForm {
  name: string;
  description: string;
  rules: RuleForm[];
}

export function emptyRule(): RuleForm {
  return { path_pattern: "", permissions: ["read"], effect: "allow", ip_ranges: "", require_mfa: false, tw_start: "", tw_end: "", tw_timezone: "UTC", tw_days: "" };
}

const splitList = (text: string) => text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);

/** The form as the API's policy body. */
export function toApi(form: PolicyForm): Record<string, unknown> {
  return {
    name: form.name,
    description: form.description || undefined,
    rules: form.rules.map((rule) => {
      const conditions: Record<string, unknown> = {};
      const ranges = splitList(rule.ip_ranges);
      if (ranges.length) conditions.ip_ranges = ranges;
      if (rule.require_mfa) conditions.require_mfa = true;
      if (rule.tw_start || rule.tw_end) {
        const days = splitList(rule.tw_days);
        conditions.time_window = { start: rule.tw_start, end: rule.tw_end, timezone: rule.tw_timezone || "UTC", ...(days.length ? { days } : {}) };
      }
      return { path_pattern: rule.path_pattern, permissions: rule.permissions, effect: rule.effect, ...(Object.keys(conditions).length ? { conditions } : {}) };
    }),
  };
}

/** An API policy (or raw JSON typed in the JSON tab) as the form. */
export function fromApi(policy: any): PolicyForm {
  const rules = Array.isArray(policy?.rules) ? policy.rules : [];
  return {
    name: typeof policy?.name === "string" ? policy.name : "",
    description: typeof policy?.description === "string" ? policy.description : "",
    rules: rules.map((rule: any): RuleForm => {
      const c = rule?.conditions ?? {};
      const tw = c.time_window ?? {};
      return {
        path_pattern: String(rule?.path_pattern ?? ""),
        permissions: Array.isArray(rule?.permissions) ? rule.permissions.map(String) : [],
        effect: rule?.effect === "deny" ? "deny" : "allow",
        ip_ranges: Array.isArray(c.ip_ranges) ? c.ip_ranges.join(", ") : "",
        require_mfa: c.require_mfa === true,
        tw_start: tw.start ?? "",
        tw_end: tw.end ?? "",
        tw_timezone: tw.timezone ?? "UTC",
        tw_days: Array.isArray(tw.days) ? tw.days.join(", ") : "",
      };
    }),
  };
}

/** Parses the JSON tab; a syntax error is reported on the `json` field. */
export function parseJson(text: string): { form: PolicyForm } | { error: string } {
  try {
    const value = JSON.parse(text);
    if (!value || typeof value !== "object" || Array.isArray(value)) return { error: "must be a JSON object" };
    return { form: fromApi(value) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/**
 * An API error as messages by form field: `name`, `rules.<i>.<field>`, `rules.<i>` (the whole
 * rule) or `form` (nothing more specific). Uses only `code` and `details`, never message text.
 */
export function fieldErrors(error: { code: string; message: string; details: Record<string, unknown> }): Record<string, string> {
  const out: Record<string, string> = {};
  const details = error.details ?? {};
  const fields = details.fields as Record<string, string> | undefined;
  if (fields && typeof fields === "object") {
    for (const [field, message] of Object.entries(fields)) out[field.replace(/\[(\d+)\]/g, ".$1")] = message;
    return out;
  }
  const index = typeof details.rule_index === "number" ? details.rule_index : null;
  if (error.code === "invalid_glob" && index !== null) out[`rules.${index}.path_pattern`] = error.message;
  else if (error.code === "invalid_policy" && index !== null) out[`rules.${index}`] = error.message;
  else if (error.code === "already_exists") out.name = error.message;
  else out.form = error.message;
  return out;
}
