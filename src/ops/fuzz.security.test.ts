import fc from "fast-check";
import { Ajv, type ValidateFunction } from "ajv";
import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient } from "../testing/harness.js";

/**
 * Thousands of generated bad requests against every secrets, policy, webhook, subscription and dynamic
 * operation the server's own OpenAPI document lists (new endpoints join automatically): no 5xx,
 * no crash, and the stored data is exactly what it was.
 */
const FUZZED_PREFIX = /^\/v1\/(secrets|policies|webhooks|subscriptions|dynamic)(\/|$)/;
const RUNS = Number(process.env.SCAIVAULT_FUZZ_RUNS ?? 2500);

interface Operation {
  method: string;
  template: string;
  params: string[];
  /** Index into VALIDATORS (kept out of the object so counterexamples print short). */
  validator: number;
}

const VALIDATORS: Array<ValidateFunction | null> = [];

const ajv = new Ajv({ strict: false, allErrors: false, validateFormats: false });

function operationsFrom(doc: any): Operation[] {
  const operations: Operation[] = [];
  for (const [template, methods] of Object.entries<any>(doc.paths)) {
    if (!FUZZED_PREFIX.test(template)) continue;
    for (const [method, op] of Object.entries<any>(methods)) {
      const schema = op.requestBody?.content?.["application/json"]?.schema;
      VALIDATORS.push(schema ? ajv.compile(schema) : null);
      operations.push({ method: method.toUpperCase(), template, params: [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]), validator: VALIDATORS.length - 1 });
    }
  }
  return operations;
}

const SEED_PATHS = ["fuzz/seed/a", "fuzz/seed/b", "fuzz/deep/x/y"];

const hostileText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.constantFrom("..", "../..", "%00", "%2e%2e", "a//b", "/", "%", "%ZZ", "\u0000", "\u202e", "a\nb", "*", "**", "?", " ", "x".repeat(700), "null", "-1", "9".repeat(30)),
);

/** Encoded enough to be sent, hostile enough to test the server's parsing. */
const pathSegment = hostileText.map((text) => encodeURIComponent(text).replace(/%25/g, () => (Math.random() < 0.5 ? "%" : "%25")));

const jsonish = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom(null, [], "", 0, -1, 1e308, true, "x".repeat(5000)));

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function snapshotKeyless(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snapshotKeyless);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => !key.startsWith("last_"))
        .map(([key, inner]) => [key, snapshotKeyless(inner)]),
    );
  }
  return value;
}

describeEachBackend("fuzz: hostile input over secrets, policies, webhooks and subscriptions", (backend) => {
  const vault = useVault(backend);
  let operations: Operation[] = [];
  const ids: Record<string, string> = {};

  async function snapshot(admin: ApiClient): Promise<unknown> {
    const state: Record<string, unknown> = {};
    for (const path of SEED_PATHS) {
      state[`secret:${path}`] = snapshotKeyless((await admin.get(`/v1/secrets/${path}`)).body);
      state[`versions:${path}`] = snapshotKeyless((await admin.get(`/v1/secrets/${path}/versions`)).body);
    }
    for (const list of ["/v1/secrets?prefix=", "/v1/policies", "/v1/webhooks", "/v1/subscriptions"]) {
      state[list] = snapshotKeyless((await admin.get(list)).body);
    }
    const db = vault().vault.db;
    for (const table of ["secrets", "secret_versions", "policies", "policy_bindings", "webhooks", "subscriptions", "tokens"]) {
      state[`rows:${table}`] = await db.get(`SELECT COUNT(*) AS n FROM ${table}`).then((row) => Number((row as { n: unknown }).n), () => "absent");
    }
    return state;
  }

  beforeAll(async () => {
    const { admin, anonymous } = vault();
    operations = operationsFrom((await anonymous.get("/v1/openapi.json")).body);
    for (const path of SEED_PATHS) {
      expect((await admin.put(`/v1/secrets/${path}`, { data: { value: `seed-${path}` }, metadata: { tags: ["fuzz"] } })).status).toBe(201);
      expect((await admin.put(`/v1/secrets/${path}`, { data: { value: `seed-${path}-v2` } })).status).toBe(200);
    }
    const policy = await admin.post("/v1/policies", { name: "fuzz-seed", rules: [{ path_pattern: "fuzz/**", permissions: ["read"] }] });
    // Every seed must exist: a fuzz run against ids that were never created would prove nothing about them.
    expect(policy.status, policy.text).toBe(201);
    ids.id = policy.body.id;
    const webhook = await admin.post("/v1/webhooks", { name: "fuzz-seed", url: "http://127.0.0.1:9/hook", events: ["secret.updated"] });
    expect(webhook.status, webhook.text).toBe(201);
    ids.webhook = webhook.body.id;
    const subscription = await admin.post("/v1/subscriptions", { name: "fuzz-seed", paths: ["fuzz/**"], events: ["secret.updated"], delivery: { type: "polling" } });
    expect(subscription.status, subscription.text).toBe(201);
    ids.subscription = subscription.body.id;
  });

  it("lists the operations it fuzzes", () => {
    const templates = new Set(operations.map((o) => o.template));
    for (const expected of ["/v1/secrets/{path}", "/v1/secrets/batch"]) expect(templates.has(expected)).toBe(true);
    expect(operations.length).toBeGreaterThanOrEqual(10);
  });

  it(`survives ${RUNS} generated bad requests with no 5xx and no change to stored data`, async () => {
    const { admin, anonymous } = vault();
    const before = await snapshot(admin);
    const seededFor = (op: Operation, param: string): string | null => {
      if (op.method !== "GET" || op.template.endsWith("/poll")) return null; // never a long poll, never a change
      if (param === "path") return SEED_PATHS[0];
      if (op.template.startsWith("/v1/webhooks")) return ids.webhook ?? null;
      if (op.template.startsWith("/v1/subscriptions")) return ids.subscription ?? null;
      return ids.id ?? null;
    };

    const request = fc.record({
      op: fc.constantFrom(...operations),
      useSeed: fc.boolean(),
      segments: fc.array(pathSegment, { minLength: 1, maxLength: 3 }),
      query: fc.array(fc.tuple(fc.constantFrom("version", "limit", "cursor", "permanent", "force", "prefix", "within", "status", "timeout", "scope", "x"), hostileText), { maxLength: 3 }),
      body: fc.oneof(
        { weight: 4, arbitrary: fc.dictionary(fc.string({ maxLength: 12 }), jsonish, { maxKeys: 4 }) },
        { weight: 3, arbitrary: jsonish },
        { weight: 2, arbitrary: fc.string({ maxLength: 200 }).map((raw) => ({ __raw: raw })) },
      ),
      knownKeys: fc.dictionary(fc.constantFrom("data", "paths", "name", "rules", "events", "url", "versions", "metadata", "options", "secret_type", "delivery", "event_ids", "identity_id", "path", "permission"), jsonish, { maxKeys: 4 }),
      credential: fc.constantFrom("admin", "admin", "admin", "none", "garbage", "wrong-tenant"),
      ifMatch: fc.option(hostileText, { nil: undefined }),
    });

    let sent = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const op = r.op;
        let url = op.template;
        for (const [i, param] of op.params.entries()) {
          const seeded = r.useSeed ? seededFor(op, param) : null;
          const value = seeded ?? (param === "path" ? r.segments.join("/") : r.segments[i % r.segments.length]);
          // A changing request never targets seeded data, whatever the generator picked.
          if (op.method !== "GET" && (SEED_PATHS.includes(safeDecode(value)) || Object.values(ids).includes(value))) return;
          url = url.replace(`{${param}}`, value);
        }
        if (r.query.length) url += "?" + r.query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");

        let raw: string | undefined;
        if (op.method !== "GET" && op.method !== "DELETE") {
          const candidate = r.body && typeof r.body === "object" && "__raw" in (r.body as object) ? (r.body as { __raw: string }).__raw : JSON.stringify(Array.isArray(r.body) || typeof r.body !== "object" || r.body === null ? r.body : { ...r.knownKeys, ...(r.body as object) });
          let parsed: unknown;
          try {
            parsed = JSON.parse(candidate);
          } catch {
            parsed = undefined;
          }
          // Only bad requests: a body the schema would accept is not sent.
          const validate = VALIDATORS[op.validator];
          if (parsed !== undefined && (validate === null ? false : validate(parsed))) return;
          if (parsed !== undefined && validate === null && parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) && Object.keys(parsed).length === 0) return;
          raw = candidate;
        }
        const headers: Record<string, string> = {};
        if (r.ifMatch !== undefined) headers["if-match"] = r.ifMatch.replace(/[\r\n\u0000]/g, "").replace(/[^\x20-\x7e]/g, "?");
        if (r.credential === "wrong-tenant") headers["x-tenant-id"] = "tnt_does_not_exist";
        const client = r.credential === "admin" || r.credential === "wrong-tenant" ? admin : r.credential === "garbage" ? anonymous.withToken("skt_" + "A".repeat(43)) : anonymous;
        const response = await client.request(op.method, url, { raw, headers: raw !== undefined ? { ...headers, "content-type": "application/json" } : headers });
        sent++;
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        // Reads may succeed; anything that could change state must have been refused.
        if (response.status >= 500 || (response.status < 400 && op.method !== "GET")) {
          throw new Error(`${op.method} ${url} ${raw ?? ""} → ${response.status} ${response.text.slice(0, 300)}`);
        }
        if (response.status < 400) return;
        expect(response.body?.error?.code, `${op.method} ${url} → ${response.text.slice(0, 200)}`).toMatch(/^[a-z_]+$/);
        expect(response.body.error.request_id).toBe(response.headers.get("x-request-id"));
      }),
      { numRuns: RUNS, seed: Number(process.env.SCAIVAULT_FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );
    expect(sent).toBeGreaterThan(RUNS / 2);
    process.stderr.write(`fuzz [${backend}]: ${sent} requests sent; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}\n`);

    expect((await anonymous.get("/v1/health")).status).toBe(200);
    expect(await snapshot(admin)).toEqual(before);
    for (const path of SEED_PATHS) expect((await admin.get(`/v1/secrets/${path}`)).body.data).toEqual({ value: `seed-${path}-v2` });
  }, 600_000);
});
