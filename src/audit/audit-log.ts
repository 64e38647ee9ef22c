import type { Database, Queryable } from "../storage/contract.js";
import { newId } from "../shared/ids.js";

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

/** Appends audit entries; written in the caller's transaction when one is given. */
export class AuditLog {
  constructor(private readonly db: Database) {}

  async append(entry: AuditEntry, tx?: Queryable): Promise<string> {
    const id = newId("log");
    await (tx ?? this.db).run(
      `INSERT INTO audit_log (id, partner_id, tenant_id, timestamp, action, identity_type, identity_id, secret_path, source_ip,
         user_agent, success, status, duration_ms, request_id, extra_data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        id,
        entry.partnerId,
        entry.tenantId,
        Date.now(),
        entry.action,
        entry.identityType,
        entry.identityId,
        entry.secretPath,
        entry.sourceIp,
        entry.userAgent,
        entry.success ? 1 : 0,
        entry.status,
        Math.max(0, Math.round(entry.durationMs)),
        entry.requestId,
        JSON.stringify(entry.extraData),
      ],
    );
    return id;
  }
}
