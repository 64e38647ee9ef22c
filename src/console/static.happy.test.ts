import { readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { CONSOLE_HEADERS, DEFAULT_UI_DIR } from "./static.js";
import { ensureConsoleBuilt } from "./testing/browser.js";

describeEachBackend("console: /ui static files and headers", (backend) => {
  const vault = useVault(backend);
  let script: string;
  beforeAll(() => {
    ensureConsoleBuilt();
    script = readdirSync(join(DEFAULT_UI_DIR, "assets")).find((name) => name.endsWith(".js"))!;
  });
  const get = (path: string) => fetch(`${vault().baseUrl}${path}`, { redirect: "manual" });

  it("/ui redirects with 308 to /ui/; the shell and deep links are the app shell, no-store, with the contract's headers", async () => {
    const redirect = await get("/ui");
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get("location")).toBe("/ui/");
    for (const path of ["/ui/", "/ui/login", "/ui/secrets/app/db/password", "/ui/audit/log_123"]) {
      const shell = await get(path);
      expect(shell.status).toBe(200);
      expect(shell.headers.get("content-type")).toMatch(/^text\/html/);
      expect(shell.headers.get("cache-control")).toBe("no-store");
      for (const [name, value] of Object.entries(CONSOLE_HEADERS)) expect(shell.headers.get(name)).toBe(value);
      expect(shell.headers.get("access-control-allow-origin")).toBeNull();
      const html = await shell.text();
      expect(html).toContain('<html lang="en">');
      // No inline script or style: every script and stylesheet is a file under /ui/assets/.
      expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
      expect(html).not.toMatch(/<style|style=/);
    }
  });

  it("hashed assets are immutable; unknown ones 404 in the contract's shape", async () => {
    const asset = await get(`/ui/assets/${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(asset.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(asset.headers.get("content-security-policy")).toBe(CONSOLE_HEADERS["Content-Security-Policy"]);
    for (const missing of ["/ui/assets/nope.js", "/ui/assets/..%2Findex.html", "/ui/assets/"]) {
      const answer = await get(missing);
      expect(answer.status).toBe(404);
      expect((await answer.json()).error.code).toBe("not_found");
    }
  });

  it("the console's first-screen JavaScript stays within 120 KB gzipped", async () => {
    const { gzipSync } = await import("node:zlib");
    const body = Buffer.from(await (await get(`/ui/assets/${script}`)).arrayBuffer());
    expect(gzipSync(body).length).toBeLessThan(120 * 1024);
    const scripts = readdirSync(join(DEFAULT_UI_DIR, "assets")).filter((name) => name.endsWith(".js"));
    expect(scripts).toHaveLength(1);
  });
});
