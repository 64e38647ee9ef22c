/**
 * `tsx bench/prof-seed.ts <baseUrl> <adminToken> [policies]`: the benchmark's reader (a secret,
 * `policies` unrelated policies bound to `sa:bench` plus the one that grants it) on a running
 * vault; prints the reader's `skt_` token. Used by bench/profile.sh.
 */
import { api } from "./lib.js";

const [baseUrl, adminToken, policies = "1000"] = process.argv.slice(2);
const admin = (method: string, path: string, body?: unknown) => api(baseUrl, adminToken, method, path, body);
const SECRET_DATA = { client_id: "3MVG9xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", client_secret: "s".repeat(64) };

await admin("PUT", "/v1/secrets/bench/secret", { data: SECRET_DATA, secret_type: "json" });
for (let i = 0; i < Number(policies); i++) {
  const policy = await admin("POST", "/v1/policies", { name: `unrelated-${i}`, rules: [{ path_pattern: `other/team-${i}/**`, permissions: ["read"] }] });
  await admin("POST", `/v1/policies/${policy.id}/bindings`, { identity_type: "service_account", identity_id: "sa:bench" });
}
const reader = await admin("POST", "/v1/policies", { name: "bench-reader", rules: [{ path_pattern: "bench/**", permissions: ["read", "write"] }] });
await admin("POST", `/v1/policies/${reader.id}/bindings`, { identity_type: "service_account", identity_id: "sa:bench" });
const issued = await admin("POST", "/v1/auth/tokens", { identity_id: "sa:bench", identity_type: "service_account", scopes: ["secrets:read", "secrets:write"], description: "bench" });
process.stdout.write(issued.token);
