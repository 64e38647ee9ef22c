import type { Database } from "../storage/contract.js";

export interface SessionRow {
  id_hmac: string;
  partner_id: string;
  tenant_id: string | null;
  identity_id: string;
  credential_kind: "vault" | "jwt";
  token_id: string | null;
  sealed_jwt: string | null;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
}

const COLUMNS = "id_hmac, partner_id, tenant_id, identity_id, credential_kind, token_id, sealed_jwt, created_at, last_seen_at, expires_at";

/** The `ui_sessions` table: any node serves any session. */
export class SessionStore {
  constructor(private readonly db: Database) {}

  async insert(row: SessionRow): Promise<void> {
    await this.db.run(`INSERT INTO ui_sessions (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
      row.id_hmac,
      row.partner_id,
      row.tenant_id,
      row.identity_id,
      row.credential_kind,
      row.token_id,
      row.sealed_jwt,
      row.created_at,
      row.last_seen_at,
      row.expires_at,
    ]);
    // Expired sessions are swept as new ones are made, so the table stays the size of live use.
    await this.db.run("DELETE FROM ui_sessions WHERE expires_at < ?", [row.created_at]);
  }

  async find(idHmac: string): Promise<SessionRow | undefined> {
    const row = await this.db.get<SessionRow>(`SELECT ${COLUMNS} FROM ui_sessions WHERE id_hmac = ?`, [idHmac]);
    return row ? { ...row, created_at: Number(row.created_at), last_seen_at: Number(row.last_seen_at), expires_at: Number(row.expires_at) } : undefined;
  }

  async touch(idHmac: string, at: number): Promise<void> {
    await this.db.run("UPDATE ui_sessions SET last_seen_at = ? WHERE id_hmac = ? AND last_seen_at < ?", [at, idHmac, at]);
  }

  async remove(idHmac: string): Promise<void> {
    await this.db.run("DELETE FROM ui_sessions WHERE id_hmac = ?", [idHmac]);
  }
}
