import type { SecretRow, VersionRow } from "./store.js";

export interface SecretHead {
  secret: SecretRow;
  version: VersionRow | null;
}

interface TenantHeads {
  epoch: number;
  heads: Map<string, SecretHead>;
}

/**
 * Secret rows with the version a read asked for, as last read from storage, per tenant. A tenant's
 * entries are valid only under the secret cache epoch they were read at; the reader reads that
 * epoch per request, and triggers move it with every change (migration 0011), so a write on any
 * node is seen by the next read on every node. Versions stay encrypted here, exactly as stored.
 */
export class SecretHeadCache {
  private readonly tenants = new Map<string, TenantHeads>();
  private entries = 0;

  constructor(private readonly maxEntries = 10_000) {}

  get(tenantId: string, path: string, version: number | null, epoch: number): SecretHead | undefined {
    const tenant = this.tenants.get(tenantId);
    if (!tenant || tenant.epoch !== epoch) return undefined;
    return tenant.heads.get(keyOf(path, version));
  }

  /** `epoch` must have been read before `head` was. */
  set(tenantId: string, path: string, version: number | null, epoch: number, head: SecretHead): void {
    let tenant = this.tenants.get(tenantId);
    if (!tenant || tenant.epoch !== epoch) {
      if (tenant) this.entries -= tenant.heads.size;
      tenant = { epoch, heads: new Map() };
      this.tenants.set(tenantId, tenant);
    }
    if (this.entries >= this.maxEntries) {
      // Crude but bounded; a full cache of distinct hot secrets this large is rare.
      this.tenants.clear();
      this.entries = 0;
      tenant = { epoch, heads: new Map() };
      this.tenants.set(tenantId, tenant);
    }
    const key = keyOf(path, version);
    if (!tenant.heads.has(key)) this.entries += 1;
    tenant.heads.set(key, head);
  }
}

function keyOf(path: string, version: number | null): string {
  return version === null ? path : `${path}\u0000${version}`;
}
