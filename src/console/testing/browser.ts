import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { DEFAULT_UI_DIR } from "../static.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** Debian's Chromium (CHROMIUM_PATH else /usr/bin/chromium); never a downloaded one. */
export function chromiumPath(): string | null {
  const path = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
  return existsSync(path) ? path : null;
}

/**
 * Whether browser suites run. Without Chromium they skip with a printed notice, except under CI,
 * where a missing browser is a failure (spec/console.md §6).
 */
export function browserAvailable(suite: string): boolean {
  if (chromiumPath()) return true;
  const message = `${suite}: Chromium not found at ${process.env.CHROMIUM_PATH || "/usr/bin/chromium"} (set CHROMIUM_PATH or apt-get install chromium)`;
  if (process.env.CI) throw new Error(`${message}; CI requires it`);
  console.warn(`NOTICE: skipping ${message}`);
  return false;
}

/** Builds the console once when dist/ui is missing (npm ci builds it; a fresh checkout under vitest may not have). */
export function ensureConsoleBuilt(): void {
  if (existsSync(join(DEFAULT_UI_DIR, "index.html"))) return;
  execFileSync("npm", ["run", "build", "-w", "ui"], { cwd: ROOT, stdio: "inherit" });
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** One headless Chromium with a fresh user-data directory, the flags of spec/console.md §6. */
export async function launchBrowser(): Promise<Browser> {
  const userDataDir = mkdtempSync(join(tmpdir(), "scaivault-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath() ?? undefined,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Collects every CSP violation the page reports (a `securitypolicyviolation` listener), across navigations. */
export async function watchCsp(context: BrowserContext): Promise<() => Promise<string[]>> {
  const violations: string[] = [];
  await context.exposeBinding("__reportCsp", (_source, text: string) => void violations.push(text));
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      (window as unknown as { __reportCsp(text: string): void }).__reportCsp(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
    });
  });
  return async () => [...violations];
}

const AXE = readFileSync(join(ROOT, "node_modules/axe-core/axe.min.js"), "utf8");

/** axe-core's WCAG 2.1 A/AA rules on the current page: the violations, as "rule: target" lines. */
export async function axeViolations(page: Page): Promise<string[]> {
  const loaded = await page.evaluate(() => typeof (window as unknown as { axe?: unknown }).axe !== "undefined");
  if (!loaded) await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: unknown, options: unknown): Promise<{ violations: Array<{ id: string; nodes: Array<{ target: unknown }> }> }> } }).axe;
    const answer = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return answer.violations.map((v) => `${v.id}: ${v.nodes.map((n) => JSON.stringify(n.target)).join(", ")}`);
  });
  return result;
}

/** What a page received from the API: each /v1 answer's status line and body (failure reports, leak checks). */
export interface ApiTrace {
  statuses: string[];
  bodies: Array<{ url: string; body: string }>;
}

/** The context's page, recording every /v1 answer into `trace`; a step fails after 20 s, well inside a test's timeout, so the report names the step. */
export async function tracedPage(browser: Browser, trace: ApiTrace): Promise<Page> {
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(20_000);
  page.on("response", async (response) => {
    if (!response.url().includes("/v1/")) return;
    trace.statuses.push(`${response.request().method()} ${new URL(response.url()).pathname} ${response.status()}`);
    try {
      trace.bodies.push({ url: response.url(), body: await response.text() });
    } catch {
      // Redirects and aborted requests have no body.
    }
  });
  return page;
}

/** Waits for `locator`; if it never shows, the error names where the page is, what it shows and the last API answers. */
export async function waitShown(page: Page, trace: ApiTrace, what: string, locator: ReturnType<Page["locator"]>): Promise<void> {
  try {
    await locator.waitFor();
  } catch (error) {
    const text = await page.locator("body").innerText({ timeout: 2_000 }).catch(() => "(no body)");
    throw new Error(`${what} not shown at ${page.url()}; page: ${text.replace(/\s+/g, " ").slice(0, 400)}; last API answers: ${trace.statuses.slice(-8).join(", ")}`, { cause: error });
  }
}
