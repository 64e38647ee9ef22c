import { createHash } from "node:crypto";
import { closeSync, mkdtempSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Caller } from "../http/context.js";
import { VaultError, validationError } from "../http/errors.js";
import { decodeCursor, encodeCursor } from "../shared/cursor.js";
import { newId } from "../shared/ids.js";
import { iso, isoOrNull } from "../shared/time.js";
import type { Database } from "../storage/contract.js";
import type { AuditRow } from "./chain.js";
import { estimateRecords } from "./estimate.js";
import { filterSql, type Filters } from "./filters.js";
import { keysetPageSql, type Position } from "./keyset.js";
import { entryView } from "./query.js";
import type { AuditRecorder } from "./recorder.js";
import { manifestPath, resolveExportDirectory } from "./export-paths.js";
import { s3Credentials, s3Destination, s3FailureReason, uploadToS3, type S3Credentials, type S3Destination } from "./export-s3.js";
import type { ExportBody } from "./schemas.js";
import type { Visibility } from "./visibility.js";
import type { SharedSlices } from "../shared/turn.js";

interface ExportRow {
  id: string;
  partner_id: string;
  tenant_id: string;
  status: string;
  format: string;
  range_from: number | null;
  range_to: number | null;
  filters: string;
  destination: string;
  estimated_records: number;
  record_count: number | null;
  manifest: string | null;
  error: string | null;
  created_by: string;
  created_at: number;
  completed_at: number | null;
  lease_until?: number | null;
}

/** Where a job writes: a directory under the export root, or an S3 object (staged locally first). */
type Target = { kind: "file"; directory: string } | { kind: "s3"; destination: S3Destination; credentials: S3Credentials };

const SUPPORTED = "supported destinations are s3 (any S3-compatible store) and file";
/** Waits between upload attempts; after the last, the export fails. */
const DEFAULT_RETRY_DELAYS_MS = [1000, 2000, 5000, 10_000, 30_000];

/**
 * Entries read per statement, and per slice of the event loop at most. SQLite reads on the loop
 * (1,000 rows: 3–4 ms of it); a PostgreSQL page costs a round trip and a plan whatever its size.
 */
const EXPORT_PAGE = { sqlite: 250, postgres: 1000 } as const;
const CSV_COLUMNS = ["id", "timestamp", "tenant_id", "action", "identity_type", "identity_id", "secret_path", "source_ip", "user_agent", "success", "duration_ms", "request_id", "extra_data", "prev_hash", "hash"] as const;

/** RFC 4180 quoting; a cell that a spreadsheet would run as a formula is prefixed with `'`. */
function csvCell(value: unknown): string {
  let text = value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export interface ExportDeps {
  db: Database;
  /**
   * The job's own database (issue 13): reading a large range is work off the request path, so it
   * runs with the long deadline and connections of its own (`Database.background()`), not the
   * request path's 5 s statement timeout. Defaults to `db`.
   */
  jobDb?: Database;
  audit: AuditRecorder;
  /** Every file destination lives under this directory. */
  exportRoot: string;
  /** Deadline of each object-store call. */
  callTimeoutMs: number;
  /** A running export renews its lease this often ×3; one whose lease ran out was interrupted. */
  leaseMs: number;
  /** The node's one share of the loop for long walks (verifications and exports take turns in it). */
  slices: SharedSlices;
  retryDelaysMs?: readonly number[];
  /** Reads a secret's data as the caller (its policies apply): object-store credentials. */
  readSecret?: (caller: Caller, path: string) => Promise<Record<string, unknown>>;
}

/**
 * Audit exports, in jsonl or csv, to a local directory (`file`) or an S3-compatible store (`s3`).
 * The job runs in this process after the 202: it writes `audit-<export_id>.<format>.partial`,
 * renames it when complete (for s3: in a private staging directory, then uploads it, retrying a
 * failed upload with the failure shown on the export as `retrying`), and records a manifest with
 * each file's size, record count and SHA-256. A running job holds a lease; an export whose lease
 * ran out (its node crashed) is marked failed, visibly, by the next recovery pass of any node.
 */
export class AuditExports {
  private readonly running = new Set<Promise<void>>();

  private get jobDb(): Database {
    return this.deps.jobDb ?? this.deps.db;
  }

  /** Aborted by drain: a job waiting to retry an upload gives up instead of holding the shutdown. */
  private readonly stopping = new AbortController();

  constructor(private readonly deps: ExportDeps) {}

  /** Where a `file` destination path lands: inside the export root, or refused. */
  resolveDirectory(path: string | undefined): string {
    return resolveExportDirectory(this.deps.exportRoot, path);
  }

  async create(caller: Caller, visibility: Visibility, body: ExportBody) {
    const type = body.destination.type;
    if (type !== "file" && type !== "s3") {
      const known = type === "gcs" || type === "azure_blob";
      throw validationError({ "destination.type": `${known ? `${type} is not supported` : "is unknown"}: ${SUPPORTED}` });
    }
    const filters: Filters = { ...(body.filters ?? {}), from: body.from, to: body.to };
    const { conditions, params, from, to } = filterSql(filters);
    let target: Target;
    let destination: Record<string, unknown>;
    if (type === "file") {
      target = { kind: "file", directory: this.resolveDirectory(body.destination.path) };
      destination = { type: "file", path: body.destination.path };
    } else {
      const s3 = s3Destination(body.destination);
      if (!this.deps.readSecret) throw validationError({ "destination.type": `s3 is not available on this server: ${SUPPORTED}` });
      // As the caller: its policies decide whether it may use these credentials.
      const credentials = s3Credentials(await this.deps.readSecret(caller, s3.credentials_path));
      target = { kind: "s3", destination: s3, credentials };
      destination = { ...s3 };
    }
    const estimate = await estimateRecords(this.deps.db, visibility.scopeArms(), conditions, params, { from, to });
    const row: ExportRow = {
      id: newId("exp"),
      partner_id: caller.tenant.partnerId,
      tenant_id: caller.tenant.tenantId,
      status: "pending",
      format: body.format,
      range_from: from ?? null,
      range_to: to ?? null,
      filters: JSON.stringify(body.filters ?? {}),
      destination: JSON.stringify(destination),
      estimated_records: estimate,
      record_count: null,
      manifest: null,
      error: null,
      created_by: caller.principal.identityId,
      created_at: Date.now(),
      completed_at: null,
    };
    caller.ctx.audit.extra = { export_id: row.id, format: row.format, destination_type: type, ...(type === "s3" ? { bucket: destination.bucket, credentials_path: destination.credentials_path } : {}) };
    await this.deps.db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO audit_exports (id, partner_id, tenant_id, status, format, range_from, range_to, filters, destination, estimated_records, record_count, manifest, error, created_by, created_at, completed_at, lease_until)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [row.id, row.partner_id, row.tenant_id, row.status, row.format, row.range_from, row.range_to, row.filters, row.destination, row.estimated_records,
          null, null, null, row.created_by, row.created_at, null, row.created_at + this.deps.leaseMs],
      );
      await this.deps.audit.recordInTransaction(tx, caller, 202);
    });
    const job = this.run(row, visibility, filters, target).finally(() => this.running.delete(job));
    this.running.add(job);
    return { export_id: row.id, status: row.status, estimated_records: row.estimated_records };
  }

  private async run(row: ExportRow, visibility: Visibility, filters: Filters, target: Target): Promise<void> {
    const name = `audit-${row.id}.${row.format}`;
    const staging = target.kind === "s3" ? mkdtempSync(join(tmpdir(), "scaivault-export-")) : null;
    const directory = target.kind === "file" ? target.directory : staging!;
    const finalPath = join(directory, name);
    // The lease tells other nodes this export is alive; a crash lets it run out.
    const renew = setInterval(() => void this.jobDb.run("UPDATE audit_exports SET lease_until = ? WHERE id = ?", [Date.now() + this.deps.leaseMs, row.id]).catch(() => {}), Math.max(10, Math.floor(this.deps.leaseMs / 3)));
    renew.unref();
    try {
      await this.jobDb.run("UPDATE audit_exports SET status = 'running' WHERE id = ?", [row.id]);
      const written = await this.writeFile(row, visibility, filters, finalPath);
      let file: Record<string, unknown>;
      if (target.kind === "file") {
        file = { path: manifestPath(this.deps.exportRoot, finalPath), records: written.records, bytes: written.bytes, sha256: written.sha256 };
      } else {
        const key = `${target.destination.prefix}${name}`;
        await this.upload(row.id, target, key, finalPath);
        file = { path: key, bucket: target.destination.bucket, records: written.records, bytes: written.bytes, sha256: written.sha256 };
      }
      await this.jobDb.run("UPDATE audit_exports SET status = 'completed', record_count = ?, manifest = ?, error = NULL, completed_at = ?, lease_until = NULL WHERE id = ?", [written.records, JSON.stringify({ files: [file] }), Date.now(), row.id]);
    } catch (error) {
      const reason = (error as { exportFailure?: string }).exportFailure ?? `the export could not be written (${(error as { code?: string }).code ?? "error"})`;
      await this.jobDb.run("UPDATE audit_exports SET status = 'failed', error = ?, completed_at = ?, lease_until = NULL WHERE id = ?", [reason, Date.now(), row.id]).catch(() => {});
    } finally {
      clearInterval(renew);
      if (staging) rmSync(staging, { recursive: true, force: true });
    }
  }

  /** Tries the upload until it succeeds or the retries are spent; each failure is shown on the export. */
  private async upload(id: string, target: Extract<Target, { kind: "s3" }>, key: string, file: string): Promise<void> {
    const delays = this.deps.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        await uploadToS3(target.destination, target.credentials, key, file, this.deps.callTimeoutMs);
        return;
      } catch (error) {
        const reason = s3FailureReason(error);
        if (attempt >= delays.length) throw Object.assign(new Error("upload failed"), { exportFailure: `upload to s3 failed after ${attempt + 1} attempts (${reason})` });
        if (this.stopping.signal.aborted) throw Object.assign(new Error("stopping"), { exportFailure: `the server stopped while the upload was failing (${reason}); create the export again` });
        await this.jobDb.run("UPDATE audit_exports SET status = 'retrying', error = ? WHERE id = ?", [`upload attempt ${attempt + 1} failed (${reason}); retrying`, id]).catch(() => {});
        await new Promise<void>((resolve) => {
          const signal = this.stopping.signal;
          const wake = () => (clearTimeout(timer), resolve());
          const timer = setTimeout(() => (signal.removeEventListener("abort", wake), resolve()), delays[attempt]);
          signal.addEventListener("abort", wake, { once: true });
        });
      }
    }
  }

  /** The records the caller may see, streamed to `<finalPath>.partial`, renamed when complete. */
  private async writeFile(row: ExportRow, visibility: Visibility, filters: Filters, finalPath: string): Promise<{ records: number; bytes: number; sha256: string }> {
    const partial = `${finalPath}.partial`;
    let fd: number | null = openSync(partial, "wx", 0o600);
    try {
      const digest = createHash("sha256");
      let bytes = 0;
      let records = 0;
      const write = (text: string) => {
        const buffer = Buffer.from(text, "utf8");
        writeSync(fd!, buffer);
        digest.update(buffer);
        bytes += buffer.length;
      };
      if (row.format === "csv") write(`${CSV_COLUMNS.join(",")}\n`);
      const { conditions, params, from, to } = filterSql(filters, "", { timeApart: true });
      let after: Position | null = null;
      // In slices of the loop shared with every other long walk, a page at most per slice (on
      // SQLite the export shares the requests' connection, and 32 µs of work per record held a
      // node's loop for ~32 ms per page of 1,000).
      const page = EXPORT_PAGE[this.jobDb.dialect];
      const walk = await this.deps.slices.walk();
      try {
        for (;;) {
          const query = keysetPageSql(visibility.scopeArms(), conditions, params, { from, to }, after, "oldest", page);
          const rows = await walk.read(() => this.jobDb.all<AuditRow>(query.sql, query.params));
          // One write per page, not a system call per record (34 → 31.5 µs per record, measured).
          let text = "";
          for (const r of rows) {
            if (walk.due()) await walk.pause();
            after = { t: Number(r.timestamp), id: r.id };
            if (!visibility.canSee(r)) continue;
            const view = entryView(r);
            text += row.format === "csv" ? `${CSV_COLUMNS.map((c) => csvCell(view[c])).join(",")}\n` : `${JSON.stringify(view)}\n`;
            records++;
          }
          if (text) write(text);
          if (rows.length < page) break;
        }
      } finally {
        walk.end();
      }
      closeSync(fd);
      fd = null;
      renameSync(partial, finalPath);
      return { records, bytes, sha256: digest.digest("hex") };
    } catch (error) {
      if (fd !== null) closeSync(fd);
      rmSync(partial, { force: true });
      throw error;
    }
  }

  /**
   * Exports left `pending`, `running` or `retrying` whose lease ran out were interrupted (their
   * node crashed or stopped): they fail, visibly. They are not resumed: the job filtered by the
   * caller's policies and held object-store credentials read as the caller, neither of which
   * survives the process. Run at start and then periodically, on every node.
   */
  async failInterrupted(now = Date.now()): Promise<number> {
    const result = await this.jobDb.run(
      `UPDATE audit_exports SET status = 'failed', error = ?, completed_at = ?, lease_until = NULL
        WHERE status IN ('pending', 'running', 'retrying') AND (lease_until IS NULL OR lease_until < ?)`,
      ["the export was interrupted (the server stopped before it finished); create it again", now, now],
    );
    return result.changes;
  }

  async get(caller: Caller, id: string) {
    const row = await this.deps.db.get<ExportRow>("SELECT * FROM audit_exports WHERE id = ? AND tenant_id = ?", [id, caller.tenant.tenantId]);
    if (!row) throw new VaultError("export_not_found", "No such export", { details: { export_id: id } });
    return exportView(row);
  }

  async list(caller: Caller, limit = 100, cursor?: string) {
    const after = decodeCursor<{ t: number; id: string }>(cursor, { t: "number", id: "string" });
    const rows = await this.deps.db.all<ExportRow>(
      `SELECT * FROM audit_exports WHERE tenant_id = ?${after ? " AND (created_at < ? OR (created_at = ? AND id < ?))" : ""} ORDER BY created_at DESC, id DESC LIMIT ?`,
      after ? [caller.tenant.tenantId, after.t, after.t, after.id, limit + 1] : [caller.tenant.tenantId, limit + 1],
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const hasMore = rows.length > limit;
    return { data: page.map(exportView), cursor: hasMore && last ? encodeCursor({ t: Number(last.created_at), id: last.id }) : null, has_more: hasMore };
  }

  /** Waits for running export jobs (shutdown, tests). */
  async drain(): Promise<void> {
    this.stopping.abort();
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}

function exportView(row: ExportRow) {
  return {
    export_id: row.id,
    id: row.id,
    status: row.status,
    format: row.format,
    from: isoOrNull(row.range_from === null ? null : Number(row.range_from)),
    to: isoOrNull(row.range_to === null ? null : Number(row.range_to)),
    filters: JSON.parse(row.filters) as Record<string, unknown>,
    destination: JSON.parse(row.destination) as Record<string, unknown>,
    estimated_records: Number(row.estimated_records),
    record_count: row.record_count === null ? null : Number(row.record_count),
    manifest: row.manifest ? (JSON.parse(row.manifest) as Record<string, unknown>) : null,
    error: row.error,
    created_by: row.created_by,
    created_at: iso(Number(row.created_at)),
    completed_at: isoOrNull(row.completed_at === null ? null : Number(row.completed_at)),
  };
}
