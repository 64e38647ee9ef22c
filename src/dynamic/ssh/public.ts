import { VaultError } from "../../http/errors.js";
import type { Database } from "../../storage/contract.js";
import type { DynamicStore, EngineRow } from "../store.js";
import { buildKrl } from "./krl.js";

/** The unauthenticated SSH reads: the CA public key and the KRL, by engine id. */
export class SshPublic {
  constructor(private readonly deps: { db: Database; store: DynamicStore }) {}

  private async engine(id: string): Promise<EngineRow> {
    const row = /^eng_[A-Za-z0-9]{20}$/.test(id) ? await this.deps.store.engineById(id) : undefined;
    if (!row || row.engine_type !== "ssh" || !row.ca_public_key) throw new VaultError("engine_not_found", "No SSH engine with this id", { details: { engine_id: id } });
    return row;
  }

  /** The engine's CA public key; `served` learns the engine's tenant (the audit entry's owner). */
  async caPublicKey(id: string, served: (row: EngineRow) => void): Promise<string> {
    const row = await this.engine(id);
    served(row);
    return `${row.ca_public_key}\n`;
  }

  async krl(id: string, served: (row: EngineRow) => void): Promise<Buffer> {
    const row = await this.engine(id);
    served(row);
    // A certificate is valid at most to its lease's longest end (max_expires_at): past it, listing its
    // serial protects nothing, and the KRL stays bounded by what is live rather than by history.
    const serials = await this.deps.db.all<{ serial: string }>(
      "SELECT serial FROM dynamic_leases WHERE engine_id = ? AND serial IS NOT NULL AND state IN ('revoked', 'expired') AND max_expires_at > ?",
      [row.id, Date.now()],
    );
    const caBlob = Buffer.from((row.ca_public_key as string).split(" ")[1], "base64");
    return buildKrl(caBlob, serials.map((s) => BigInt(s.serial)), BigInt(Math.floor(Date.now() / 1000)));
  }
}
