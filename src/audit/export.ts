import { createHash } from "node:crypto";
import { mkdirSync, openSync, closeSync, writeSync, renameSync, realpathSync, rmSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Caller } from "../http/context.js";
import { VaultError, validationError } from "../http/errors.js";
import { decodeCursor, encodeCursor } from "../shared/cursor.js";
import { newId } from "../shared/ids.js";
import { iso, isoOrNull } from "../shared/time.js";
import type { Database, SqlParam } from "../storage/contract.js";
import { AUDIT_COLUMNS, type AuditRow } from "./chain.js";
import { filterSql, type Filters } from "./filters.js";
import { entryView } from "./query.js";
import type { AuditRecorder } from "./recorder.js";
import type { ExportBody } from "./schemas.js";
import type { Visibility } from "./visibility.js";

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
}

const CSV_COLUMNS = ["id", "timestamp", "tenant_id", "action", "identity_type", "identity_id", "secret_path", "source_ip", "user_agent", "success", "duration_ms", "request_id", "extra_data", "prev_hash", "hash"] as const;

/** RFC 4180 quoting; a cell that a spreadsheet would run as a formula is prefixed with `'`. */
function csvCell(value: unknown): string {
  let text = value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export interface ExportDeps {
  db: Database;
  audit: AuditRecorder;
  /** Every file destination lives under this directory. */
  exportRoot: string;
}

/**
 * Audit exports to a local directory (`destination.type: file`), in jsonl or csv. The job runs in
 * this process after the 202: it writes `<dir>/audit-<export_id>.<format>.partial`, renames it
 * when complete, and records a manifest with each file's size, record count and SHA-256.
 */
export class AuditExports {
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly deps: ExportDeps) {}

  /** Where a `file` destination path lands: inside the export root, or refused. */
  resolveDirectory(path: string | undefined): string {
    const field = "destination.path";
    if (!path) throw validationError({ [field]: "is required for a file destination" });
    if (path.includes("\0") || path.split(/[\\/]/).includes("..")) throw validationError({ [field]: "may not contain .. segments" });
    const root = resolve(this.deps.exportRoot);
    const target = isAbsolute(path) ? resolve(path) : resolve(root, path);
    if (target !== root && !target.startsWith(root + sep)) throw validationError({ [field]: `must be inside the export directory ${root}` });
    mkdirSync(root, { recursive: true, mode: 0o700 });
    mkdirSync(target, { recursive: true, mode: 0o700 });
    // A symlink inside the root must not lead out of it.
    const realRoot = realpathSync(root);
    const realTarget = realpathSync(target);
    if (realTarget !== realRoot && !realTarget.startsWith(realRoot + sep)) throw validationError({ [field]: `must be inside the export directory ${root}` });
    return realTarget;
  }

  async create(caller: Caller, visibility: Visibility, body: ExportBody) {
    if (body.destination.type !== "file") {
      throw validationError({ "destination.type": "must be file: this server exports to a local directory (object stores come later)" });
    }
    const filters: Filters = { ...(body.filters ?? {}), from: body.from, to: body.to };
    const { conditions, params, from, to } = filterSql(filters);
    const directory = this.resolveDirectory(body.destination.path);
    const scope = visibility.scopeSql();
    const estimate = await this.deps.db.get<{ n: number | string }>(
      `SELECT COUNT(*) AS n FROM audit_log WHERE ${[scope.sql, ...conditions].join(" AND ")}`,
      [...scope.params, ...params],
    );
    const row: ExportRow = {
      id: newId("exp"),
      partner_id: caller.tenant.partnerId,
      tenant_id: caller.tenant.tenantId,
      status: "pending",
      format: body.format,
      range_from: from ?? null,
      range_to: to ?? null,
      filters: JSON.stringify(body.filters ?? {}),
      destination: JSON.stringify({ type: "file", path: body.destination.path }),
      estimated_records: Number(estimate?.n ?? 0),
      record_count: null,
      manifest: null,
      error: null,
      created_by: caller.principal.identityId,
      created_at: Date.now(),
      completed_at: null,
    };
    caller.ctx.audit.extra = { export_id: row.id, format: row.format, destination_type: "file" };
    await this.deps.db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO audit_exports (id, partner_id, tenant_id, status, format, range_from, range_to, filters, destination, estimated_records, record_count, manifest, error, created_by, created_at, completed_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [row.id, row.partner_id, row.tenant_id, row.status, row.format, row.range_from, row.range_to, row.filters, row.destination, row.estimated_records,
          null, null, null, row.created_by, row.created_at, null],
      );
      await this.deps.audit.recordInTransaction(tx, caller, 202);
    });
    const job = this.run(row, visibility, filters, directory).finally(() => this.running.delete(job));
    this.running.add(job);
    return { export_id: row.id, status: row.status, estimated_records: row.estimated_records };
  }

  private async run(row: ExportRow, visibility: Visibility, filters: Filters, directory: string): Promise<void> {
    const name = `audit-${row.id}.${row.format}`;
    const finalPath = join(directory, name);
    const partial = `${finalPath}.partial`;
    let fd: number | null = null;
    try {
      await this.deps.db.run("UPDATE audit_exports SET status = 'running' WHERE id = ?", [row.id]);
      fd = openSync(partial, "wx", 0o600);
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
      const { conditions, params } = filterSql(filters);
      const scope = visibility.scopeSql();
      let after: { t: number; id: string } | null = null;
      for (;;) {
        const where = [scope.sql, ...conditions];
        const args: SqlParam[] = [...scope.params, ...params];
        if (after) where.push("(timestamp > ? OR (timestamp = ? AND id > ?))"), args.push(after.t, after.t, after.id);
        const rows: AuditRow[] = await this.deps.db.all<AuditRow>(
          `SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE ${where.join(" AND ")} ORDER BY timestamp, id LIMIT 1000`,
          [...args],
        );
        for (const r of rows) {
          after = { t: Number(r.timestamp), id: r.id };
          if (!visibility.canSee(r)) continue;
          const view = entryView(r);
          write(row.format === "csv" ? `${CSV_COLUMNS.map((c) => csvCell(view[c])).join(",")}\n` : `${JSON.stringify(view)}\n`);
          records++;
        }
        if (rows.length < 1000) break;
      }
      closeSync(fd);
      fd = null;
      renameSync(partial, finalPath);
      const manifest = { files: [{ path: relative(realpathSync(resolve(this.deps.exportRoot)), finalPath), records, bytes, sha256: digest.digest("hex") }] };
      await this.deps.db.run("UPDATE audit_exports SET status = 'completed', record_count = ?, manifest = ?, completed_at = ? WHERE id = ?", [records, JSON.stringify(manifest), Date.now(), row.id]);
    } catch (error) {
      if (fd !== null) closeSync(fd);
      rmSync(partial, { force: true });
      const reason = (error as { code?: string }).code ?? "error";
      await this.deps.db
        .run("UPDATE audit_exports SET status = 'failed', error = ?, completed_at = ? WHERE id = ?", [`the export could not be written (${reason})`, Date.now(), row.id])
        .catch(() => {});
    }
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
