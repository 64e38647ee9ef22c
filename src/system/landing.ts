/**
 * `GET /`: what a browser (or curl) finds at the vault's address — where the console, the API
 * description and the docs are — instead of a 401. Public, and it says nothing about the data.
 */
import type { FastifyInstance } from "fastify";

const LINKS = { console: "/ui", openapi: "/v1/openapi.json", health: "/v1/health", docs: "README.md and docs/your-first-integration.md in the repository" };

const HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ScaiVault</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>ScaiVault</h1>
<p>This is a ScaiVault secrets vault. Its API lives under <code>/v1</code> and needs a token.</p>
<ul>
<li><a href="${LINKS.console}">The admin console</a> (<code>/ui</code>)</li>
<li><a href="${LINKS.openapi}">The API description</a> (OpenAPI)</li>
<li><a href="${LINKS.health}">Health</a></li>
<li>Getting started: the README and <code>docs/your-first-integration.md</code> in the repository</li>
</ul>
</body></html>
`;

export function registerLanding(app: FastifyInstance): void {
  app.get("/", { schema: { hide: true }, config: { auth: false } }, async (request, reply) => {
    const accept = String(request.headers.accept ?? "");
    if (/text\/html/.test(accept)) return reply.type("text/html; charset=utf-8").send(HTML);
    return { name: "ScaiVault", message: "A secrets vault: the API is under /v1 and needs a bearer token.", links: LINKS };
  });
}
