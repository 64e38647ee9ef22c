import type { Migration } from "../storage/contract.js";

export const consoleMigrations: Migration[] = [
  {
    // Console sign-in sessions (spec/console.md §2). The id is stored only as an HMAC, so a
    // database dump yields no usable cookie; the credential is a token id or a sealed JWT.
    id: "0400_console_sessions",
    up: () => [
      `CREATE TABLE ui_sessions (
        id_hmac TEXT PRIMARY KEY,
        partner_id TEXT NOT NULL,
        tenant_id TEXT,
        identity_id TEXT NOT NULL,
        credential_kind TEXT NOT NULL,
        token_id TEXT,
        sealed_jwt TEXT,
        created_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      )`,
      "CREATE INDEX ui_sessions_expiry ON ui_sessions (expires_at)",
    ],
  },
];
