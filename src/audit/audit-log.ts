import type { Database, Queryable } from "../storage/contract.js";
import { newSortableId } from "../shared/ids.js";
import { nowMicros } from "../shared/time.js";
import { ChainAppender, type UnchainedRow } from "./chain.js";
import { mentionsOf } from "./mentions.js";

export interface AuditEntry {
  partnerId: string;
  tenantId: string | null;
  action: string;
  identityType: string | null;
  identityId: string | null;
  secretPath: string | null;
  sourceIp: string | null;
  userAgent: string | null;
  success: boolean;
  status: number;
  durationMs: number;
  requestId: string;
  /** Never a secret value, token or signing secret: callers put codes, ids and HMACs here. */
  extraData: Record<string, unknown>;
}

interface Waiting {
  row: UnchainedRow;
  resolve: () => void;
  reject: (error: unknown) => void;
}

const MAX_BATCH = 500;

export interface AuditLogOptions {
  /** `normal`: on PostgreSQL the read-entry batches commit with synchronous_commit off. */
  sync: "normal" | "full";
}

/**
 * Appends audit entries to the per-tenant hash chains. Entries that belong to a change are
 * written in that change's transaction (`appendInTransaction`). Entries for everything else
 * (reads, denials, failures) go through a group commit: whatever arrives while a batch is being
 * committed forms the next batch, one transaction for all of them, and each caller's promise
 * settles only when its batch has committed — so no response leaves before its entry is durable,
 * and one fsync serves many requests.
 */
export class AuditLog {
  private pending: Waiting[] = [];
  private flushing = false;

  constructor(private readonly db: Database, private readonly chain: ChainAppender, private readonly options: AuditLogOptions) {}

  /** `atCommit`: this is the transaction's last statement (see `ChainAppender.append`). */
  async appendInTransaction(tx: Queryable, entry: AuditEntry, atCommit?: (error: unknown) => Error): Promise<string> {
    const row = toRow(entry);
    await this.chain.append(tx, [row], { atCommit });
    return row.id;
  }

  /** PostgreSQL: the lane for `appendInTransaction`'s entry, locked with the transaction's first statement (`ChainAppender.lockAhead`). */
  lockChainAhead(tx: Queryable, partnerId: string, tenantId: string | null): void {
    this.chain.lockAhead(tx, partnerId, tenantId);
  }

  append(entry: AuditEntry): Promise<string> {
    const row = toRow(entry);
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ row, resolve, reject });
      this.kick();
    }).then(() => row.id);
  }

  /** Resolves once every entry submitted so far has been committed or failed. */
  async drain(): Promise<void> {
    while (this.flushing || this.pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  private kick(): void {
    if (this.flushing || this.pending.length === 0) return;
    this.flushing = true;
    // One macrotask of delay lets the requests already in flight join this batch.
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0, MAX_BATCH);
    try {
      await this.commit(batch.map((w) => w.row));
      for (const waiting of batch) waiting.resolve();
    } catch (error) {
      if (batch.length === 1) batch[0].reject(error);
      else await this.commitOneByOne(batch);
    } finally {
      this.flushing = false;
      this.kick();
    }
  }

  /** A failed batch is retried entry by entry so that one bad entry cannot fail its neighbours. */
  private async commitOneByOne(batch: readonly Waiting[]): Promise<void> {
    for (const waiting of batch) {
      try {
        await this.commit([waiting.row]);
        waiting.resolve();
      } catch (error) {
        waiting.reject(error);
      }
    }
  }

  private async commit(rows: readonly UnchainedRow[]): Promise<void> {
    // PostgreSQL with `normal`: synchronous_commit off for these batches. That survives a crash of
    // the vault (the server has the commit); only a database host crash can lose the last fraction
    // of a second, as SQLite's synchronous=NORMAL does on power loss.
    await this.db.transaction((tx) => this.chain.append(tx, rows, { asyncCommit: this.options.sync === "normal" }));
  }
}

function toRow(entry: AuditEntry): UnchainedRow {
  const { ms: timestamp, micros } = nowMicros();
  return {
    id: newSortableId("log", timestamp, micros),
    partner_id: entry.partnerId,
    tenant_id: entry.tenantId,
    timestamp,
    timestamp_us: micros,
    action: entry.action,
    identity_type: entry.identityType,
    identity_id: entry.identityId,
    secret_path: entry.secretPath,
    source_ip: entry.sourceIp,
    user_agent: entry.userAgent,
    success: entry.success ? 1 : 0,
    status: entry.status,
    duration_ms: Math.max(0, Math.round(entry.durationMs)),
    request_id: entry.requestId,
    extra_data: JSON.stringify(entry.extraData),
    mentions: mentionsOf(entry),
  };
}
