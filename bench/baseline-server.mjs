// The baseline: bare node:http answering a secret-sized JSON body, nothing else.
import { createServer } from "node:http";

const body = JSON.stringify({
  path: "bench/secret",
  secret_type: "json",
  version: 3,
  data: { client_id: "3MVG9xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", client_secret: "s".repeat(64) },
  metadata: { description: "bench", tags: ["bench"], owner: null, custom: {} },
  created_at: new Date().toISOString(),
  updated_at: new Date().toISOString(),
  expires_at: null,
  last_accessed_at: null,
  rotation_policy_id: null,
  secret_policy_id: null,
  rotation: null,
});
const server = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
});
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
