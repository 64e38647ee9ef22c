import { VaultError } from "../../http/errors.js";
import { SizedCache } from "../../shared/sized-cache.js";
import { SharedRuns } from "../../shared/shared-runs.js";
import type { DynamicStore, EngineRow } from "../store.js";
import { buildKrl } from "./krl.js";

/** A KRL this node built, and the engine's count of KRL entries it was built from. */
interface BuiltKrl {
  krlVersion: number;
  builtAt: number;
  krl: Buffer;
}

// Past this age a KRL is built again even when nothing entered it, so serials whose certificates can
// no longer be valid leave it (listing them a minute longer protects nothing and harms nothing).
const KRL_MAX_AGE_MS = 60_000;
// What the KRLs a node keeps may hold in all: 8 bytes a serial, ~400 KB for 50,000 listed certificates.
const BUILT_KRL_BYTES = 64 * 1024 * 1024;

/** The unauthenticated SSH reads: the CA public key and the KRL, by engine id. */
export class SshPublic {
  private readonly built = new SizedCache<string, BuiltKrl>(BUILT_KRL_BYTES, (built) => built.krl.length);
  // Requests that find the KRL out of date while it is being built share one build.
  private readonly building = new SharedRuns<Buffer>();

  constructor(private readonly deps: { store: DynamicStore }) {}

  private async engine(id: string): Promise<EngineRow & { krl_version: number }> {
    const row = /^eng_[A-Za-z0-9]{20}$/.test(id) ? await this.deps.store.engineWithKrlVersion(id) : undefined;
    if (!row || row.engine_type !== "ssh" || !row.ca_public_key) throw new VaultError("engine_not_found", "No SSH engine with this id", { details: { engine_id: id } });
    return row;
  }

  /** The engine's CA public key; `served` learns the engine's tenant (the audit entry's owner). */
  async caPublicKey(id: string, served: (row: EngineRow) => void): Promise<string> {
    const row = await this.engine(id);
    served(row);
    return `${row.ca_public_key}\n`;
  }

  /**
   * Every SSH host may fetch the KRL on a timer, without a token: the KRL a node built is served
   * while no lease has entered it since (the engine's `krl_version`, read with the engine) and it is
   * under a minute old. A revocation on any node bumps the count in its own transaction, so the
   * next request here builds again.
   */
  async krl(id: string, served: (row: EngineRow) => void): Promise<Buffer> {
    const row = await this.engine(id);
    served(row);
    const built = this.built.get(row.id);
    if (built && built.krlVersion === row.krl_version && Date.now() - built.builtAt < KRL_MAX_AGE_MS) return built.krl;
    return this.building.run(row.id, () => this.build(row));
  }

  // Tagged with the count read before its serials: a lease that ended in between shows as a newer
  // count on the next request, which builds again.
  private async build(row: EngineRow & { krl_version: number }): Promise<Buffer> {
    const builtAt = Date.now();
    // A certificate is valid at most to its lease's longest end (max_expires_at): past it, listing its
    // serial protects nothing, and the KRL stays bounded by what is live rather than by history.
    const serials = await this.deps.store.krlSerials(row.id, builtAt);
    const caBlob = Buffer.from((row.ca_public_key as string).split(" ")[1], "base64");
    const krl = buildKrl(caBlob, BigUint64Array.from(serials, BigInt), BigInt(Math.floor(builtAt / 1000)), builtAt);
    this.built.set(row.id, { krlVersion: row.krl_version, builtAt, krl });
    return krl;
  }
}
