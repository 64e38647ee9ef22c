import type { BcryptWorker } from "./bcrypt-worker.js";
import type { Abandonment, GenerationGate } from "./generation-gate.js";

/** One tenant's way to the node's expensive generations: in turn with other tenants, bcrypt off the event loop. */
export interface TenantGeneration {
  /** Runs an expensive generation (an RSA key pair) in the tenant's turn. */
  inTurn<T>(work: () => Promise<T>): Promise<T>;
  /** A bcrypt hash, in the tenant's turn, on the bcrypt worker. */
  bcrypt(password: string, salt: string): Promise<string>;
}

/** The node's gate and bcrypt worker, made once in the composition root. */
export class ExpensiveWork {
  constructor(private readonly gate: GenerationGate, private readonly hasher: BcryptWorker) {}

  /** `abandoned`: the asking request's client went away (waiting work is then dropped); none for background work. */
  forTenant(tenantId: string, abandoned?: Abandonment): TenantGeneration {
    return {
      inTurn: (work) => this.gate.run(tenantId, work, abandoned),
      bcrypt: (password, salt) => this.gate.run(tenantId, () => this.hasher.hash(password, salt), abandoned),
    };
  }

  close(): Promise<void> {
    return this.hasher.close();
  }
}
