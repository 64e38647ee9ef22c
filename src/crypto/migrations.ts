import type { Migration } from "../storage/contract.js";

export const cryptoMigrations: Migration[] = [
  {
    id: "0002_crypto_keys",
    up: (t) => [
      `CREATE TABLE crypto_keys (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        owner_id TEXT NOT NULL,
        wrapped ${t.blob} NOT NULL,
        wrapping_key_id TEXT NOT NULL,
        active INTEGER NOT NULL,
        created_at BIGINT NOT NULL
      )`,
      "CREATE UNIQUE INDEX crypto_keys_active ON crypto_keys (kind, owner_id) WHERE active = 1",
    ],
  },
];
