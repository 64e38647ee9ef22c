import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";

describeEachBackend("GET / : a landing answer, not a 401", (backend) => {
  const vault = useVault(backend);

  it("a browser gets a small HTML page linking the console and the docs; others get JSON links", async () => {
    const page = await fetch(`${vault().baseUrl}/`, { headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('href="/ui"');
    expect(html).toContain('href="/v1/openapi.json"');
    const json = await vault().anonymous.get("/");
    expect(json.status).toBe(200);
    expect(json.body.links).toMatchObject({ console: "/ui", openapi: "/v1/openapi.json" });
    // Everything else still needs a token.
    expect((await vault().anonymous.get("/v1/secrets")).status).toBe(401);
  });
});
