/** What the vault reads from an identity directory (ScaiKey). Shapes: spec/identity.md §2. */
export type DirectoryStatus = "ACTIVE" | "SUSPENDED" | "DISABLED" | "DELETED";

export interface DirPartner { id: string; name: string; slug: string | null; region: string | null; status: DirectoryStatus }
export interface DirTenant { id: string; partner_id: string; name: string; slug: string | null; status: DirectoryStatus }
export interface DirUser { id: string; tenant_id: string; email: string; display_name: string | null; status: DirectoryStatus; mfa_enabled: boolean; roles: string[] }
export interface DirGroup { id: string; tenant_id: string; name: string; description: string | null; status: DirectoryStatus }
export interface DirMember { member_type: "user" | "group" | "application"; member_id: string; added_at: string | null }
export interface DirApplication { id: string; tenant_id: string; client_id: string; name: string; type: string; status: DirectoryStatus }

/** One tenant's whole directory, fetched before anything is applied. */
export interface TenantSnapshot {
  users: DirUser[];
  groups: DirGroup[];
  members: Map<string, DirMember[]>;
  applications: DirApplication[];
}

export interface DirectoryClient {
  partners(): Promise<DirPartner[]>;
  tenants(partnerId: string): Promise<DirTenant[]>;
  tenantSnapshot(tenantId: string): Promise<TenantSnapshot>;
}

/** A directory call that failed after its retries: the sync records it and applies nothing for that scope. */
export class DirectoryError extends Error {
  constructor(message: string, readonly status: number | null) {
    super(message);
    this.name = "DirectoryError";
  }
}
