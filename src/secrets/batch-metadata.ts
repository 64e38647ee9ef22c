import { denial } from "../access/authorizer.js";
import type { Caller } from "../http/context.js";
import { VaultError, isVaultError, validationError } from "../http/errors.js";
import { pathMatchesAny, requirePathGlobs } from "../events/catalogue.js";
import { nextTurn } from "../shared/turn.js";
import { pathProblem } from "./paths.js";
import type { ReaderDeps } from "./reader.js";
import type { BatchMetadataBody, BatchMetadataResponse } from "./schemas.js";
import { notFound } from "./service.js";
import type { SecretRow } from "./store.js";
import { metadataView } from "./view.js";

/** SPEC §3: at most this many paths in one answer once wildcards are expanded. */
export const MAX_EXPANDED_PATHS = 1_000;
/** Rows one expansion may look at, so a broad pattern over a large tenant stays a bounded request. */
const MAX_SCANNED_ROWS = 50_000;
const SCAN_PAGE = 500;
const WILDCARD = /[*?]/;

/**
 * `POST /v1/secrets/batch/metadata`: many secrets' metadata (never data) in one call, each path
 * under its own `list` permission. With `expand_wildcards`, entries are SPEC §4 globs expanded over
 * the paths the caller may list; names it may not list are never returned nor counted.
 */
export class BatchMetadataReader {
  constructor(private readonly deps: ReaderDeps) {}

  async read(caller: Caller, body: BatchMetadataBody): Promise<BatchMetadataResponse> {
    const allowed = await this.deps.authorizer.forCaller(caller);
    const result: BatchMetadataResponse = { secrets: {}, errors: {} };
    const rows = new Map<string, SecretRow>();
    const wanted: string[] = [];
    if (body.expand_wildcards) {
      requirePathGlobs("paths", body.paths);
      for (const row of await this.expand(caller.tenant.tenantId, body.paths, (path) => allowed(path, "list").allowed)) {
        rows.set(row.path, row);
        wanted.push(row.path);
      }
    } else {
      wanted.push(...new Set(body.paths));
    }
    for (const path of wanted) {
      try {
        const problem = pathProblem(path);
        if (problem) throw new VaultError("invalid_path", `Invalid secret path: ${problem}`, { details: { path } });
        const decision = allowed(path, "list");
        if (!decision.allowed) throw denial(decision, "list");
        const row = rows.get(path) ?? (await this.deps.store.get(caller.tenant.tenantId, path));
        if (!row || row.deleted_at !== null) throw notFound(path, row, Date.now());
        const versions = await this.deps.store.countVersions(row.tenant_id, row.path);
        result.secrets[path] = metadataView(row, versions, await this.deps.rotation?.blockFor(row));
      } catch (error) {
        if (!isVaultError(error) || error.status >= 500) throw error;
        result.errors[path] = { code: error.code, message: error.message };
      }
    }
    caller.ctx.audit.extra = { paths: Object.keys(result.secrets), denied_or_failed: Object.keys(result.errors), expand_wildcards: body.expand_wildcards === true };
    return result;
  }

  /** Live secrets matching any pattern that the caller may list, in path order, without duplicates. */
  private async expand(tenantId: string, patterns: string[], mayList: (path: string) => boolean): Promise<SecretRow[]> {
    const found = new Map<string, SecretRow>();
    let scanned = 0;
    for (const pattern of patterns) {
      // Only the literal text before the first wildcard narrows the scan; the matcher decides the rest.
      const literal = WILDCARD.test(pattern) ? pattern.slice(0, pattern.search(WILDCARD)) : pattern;
      let after: string | null = null;
      for (;;) {
        // Between pages: on SQLite nothing else would let the node read a socket until the walk ends.
        if (scanned > 0) await nextTurn();
        const page = await this.deps.store.page(tenantId, literal, after, SCAN_PAGE);
        scanned += page.length;
        for (const row of page) {
          // The caller's permission before the pattern (issue 13): no pattern work on names it may not list.
          if (found.has(row.path) || !mayList(row.path) || !pathMatchesAny([pattern], row.path)) continue;
          found.set(row.path, row);
          if (found.size > MAX_EXPANDED_PATHS) throw validationError({ paths: `the patterns match more than ${MAX_EXPANDED_PATHS} secrets; narrow them` });
        }
        if (scanned > MAX_SCANNED_ROWS) throw validationError({ paths: `the patterns cover more than ${MAX_SCANNED_ROWS} secrets to examine; give a longer literal prefix` });
        if (page.length < SCAN_PAGE) break;
        after = page[page.length - 1].path;
      }
    }
    return [...found.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}
