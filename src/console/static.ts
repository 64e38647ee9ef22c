import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sendError } from "../http/error-handler.js";
import { VaultError } from "../http/errors.js";

/** `dist/ui/` at the project root, whether this file runs from src/console or dist/console. */
export const DEFAULT_UI_DIR = fileURLToPath(new URL("../../dist/ui/", import.meta.url));

/** spec/console.md §3, on every `/ui` answer. */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
};

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".json": "application/json",
};

interface Asset {
  body: Buffer;
  type: string;
}

interface Bundle {
  shell: Buffer;
  assets: Map<string, Asset>;
}

/** Reads the built console once; a missing build is retried on the next request (it may be built later). */
function loadBundle(dir: string): Bundle | null {
  try {
    const shell = readFileSync(join(dir, "index.html"));
    const assets = new Map<string, Asset>();
    for (const name of readdirSync(join(dir, "assets"))) {
      assets.set(name, { body: readFileSync(join(dir, "assets", name)), type: TYPES[extname(name)] ?? "application/octet-stream" });
    }
    return { shell, assets };
  } catch {
    return null;
  }
}

function withHeaders(reply: FastifyReply): FastifyReply {
  for (const [name, value] of Object.entries(CONSOLE_HEADERS)) reply.header(name, value);
  return reply;
}

/**
 * `/ui` → `308 /ui/`; `/ui/assets/<hashed>` immutable (unknown ones 404); any other `GET /ui/…` is
 * the app shell, `no-store`, so deep links and reloads work. Public (the shell holds no data).
 */
export function registerConsoleStatic(app: FastifyInstance, dir: string): void {
  let bundle: Bundle | null = null;
  const current = (): Bundle | null => (bundle ??= loadBundle(dir));
  const open = { auth: false } as const;
  const schema = { hide: true };

  app.get("/ui", { schema, config: open }, async (_request, reply) => withHeaders(reply).redirect("/ui/", 308));

  app.get<{ Params: { "*": string } }>("/ui/assets/*", { schema, config: open }, async (request, reply) => {
    const asset = current()?.assets.get(request.params["*"]);
    withHeaders(reply);
    if (!asset) return sendError(request, reply, new VaultError("not_found", "No such console asset"));
    return reply.header("Cache-Control", "public, max-age=31536000, immutable").type(asset.type).send(asset.body);
  });

  app.get("/ui/*", { schema, config: open }, async (request, reply) => {
    const built = current();
    withHeaders(reply).header("Cache-Control", "no-store");
    if (!built) return sendError(request, reply, new VaultError("not_found", "The console is not built (run npm run build)"));
    return reply.type("text/html; charset=utf-8").send(built.shell);
  });
}

/** SCAIVAULT_UI=false: the console's URLs answer 404 (not the 401 an unknown authenticated route gets). */
export function registerConsoleOff(app: FastifyInstance): void {
  const off = async (request: FastifyRequest, reply: FastifyReply) => sendError(request, reply, new VaultError("not_found", "The console is turned off (SCAIVAULT_UI=false)"));
  const options = { schema: { hide: true }, config: { auth: false } };
  for (const url of ["/ui", "/ui/*"]) app.get(url, options, off);
  app.route({ method: ["GET", "POST", "DELETE"], url: "/v1/ui/session", ...options, handler: off });
}
