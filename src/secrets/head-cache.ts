import type { SecretRow, VersionRow } from "./store.js";

export interface SecretHead {
  secret: SecretRow;
  version: VersionRow | null;
}

interface TenantHeads {
  epoch: number;
  heads: Map<string, SecretHead>;
  bytes: number;
}

/**
 * Secret rows with the version a read asked for, as last read from storage, per tenant. A tenant's
 * entries are valid only under the secret cache epoch they were read at; the reader reads that
 * epoch per request, and triggers move it with every change (migration 0011), so a write on any
 * node is seen by the next read on every node. Versions stay encrypted here, exactly as stored.
 */
export class SecretHeadCache {
  private readonly tenants = new Map<string, TenantHeads>();
  private bytes = 0;

  /** Secrets may be up to SCAIVAULT_MAX_SECRET_BYTES each: the bound is on bytes, not entries. */
  constructor(private readonly maxBytes = 32 * 1024 * 1024) {}

  get(tenantId: string, path: string, version: number | null, epoch: number): SecretHead | undefined {
    const tenant = this.tenants.get(tenantId);
    if (!tenant || tenant.epoch !== epoch) return undefined;
    return tenant.heads.get(keyOf(path, version));
  }

  /** `epoch` must have been read before `head` was. */
  set(tenantId: string, path: string, version: number | null, epoch: number, head: SecretHead): void {
    const size = sizeOf(head);
    if (size > this.maxBytes / 16) return;
    let tenant = this.tenants.get(tenantId);
    if (!tenant || tenant.epoch !== epoch) {
      if (tenant) this.bytes -= tenant.bytes;
      tenant = { epoch, heads: new Map(), bytes: 0 };
      this.tenants.set(tenantId, tenant);
    }
    if (this.bytes + size > this.maxBytes) {
      // Crude but bounded: a working set of hot secrets larger than the cache is rare.
      this.tenants.clear();
      this.bytes = 0;
      tenant = { epoch, heads: new Map(), bytes: 0 };
      this.tenants.set(tenantId, tenant);
    }
    const key = keyOf(path, version);
    const previous = tenant.heads.get(key);
    const delta = size - (previous ? sizeOf(previous) : 0);
    tenant.heads.set(key, head);
    tenant.bytes += delta;
    this.bytes += delta;
  }
}

function keyOf(path: string, version: number | null): string {
  return version === null ? path : `${path}\u0000${version}`;
}

/** Roughly what an entry holds: its buffers and texts, plus a fixed allowance for the objects. */
function sizeOf(head: SecretHead): number {
  const version = head.version;
  return 512 + head.secret.path.length * 2 + head.secret.metadata.length * 2 + (version?.ciphertext?.length ?? 0) + (version?.wrapped_key?.length ?? 0);
}
