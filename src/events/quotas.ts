import { quotaExceeded } from "../http/errors.js";
import type { Caller } from "../http/context.js";
import type { Dialect, Queryable } from "../storage/contract.js";
import { countOf, takeTenantTurn } from "../storage/tenant-lock.js";

export interface TargetQuotas {
  webhooksPerTenant: number;
  subscriptionsPerTenant: number;
  subscriptionsPerIdentity: number;
}

const DELETE_ONE = "delete one first";
// Any fixed number: the first half of the two-part advisory lock key that serializes one tenant's target creations.
const TARGET_CREATION_LOCK = 7_305_002;

/**
 * Every event is matched against each webhook and subscription of its tenant in the one fan-out
 * pass all tenants share, and each match writes a delivery or an inbox row (and a webhook POST):
 * a `subscriptions:write` token creating 20 a minute for a day would turn each write in its
 * tenant into ~29,000 rows and requests, and slow every tenant's events. So a tenant holds at most
 * SCAIVAULT_MAX_WEBHOOKS_PER_TENANT webhooks and SCAIVAULT_MAX_SUBSCRIPTIONS_PER_TENANT
 * subscriptions, an identity SCAIVAULT_MAX_SUBSCRIPTIONS_PER_IDENTITY of them; disabled ones count
 * (a PATCH turns them back on). Checked inside the creating transaction; on PostgreSQL one tenant's
 * creations take turns on an advisory lock, so two at once cannot both take the last place.
 */
export class TargetQuota {
  constructor(private readonly quotas: TargetQuotas, private readonly dialect: Dialect) {}

  async requireRoomForWebhook(tx: Queryable, caller: Caller): Promise<void> {
    await this.serialize(tx, caller);
    const held = await countOf(tx, "SELECT COUNT(*) AS n FROM webhooks WHERE tenant_id = ?", [caller.tenant.tenantId]);
    if (held >= this.quotas.webhooksPerTenant) throw quotaExceeded("webhooks", "tenant", this.quotas.webhooksPerTenant, DELETE_ONE);
  }

  async requireRoomForSubscription(tx: Queryable, caller: Caller): Promise<void> {
    await this.serialize(tx, caller);
    const { tenantId } = caller.tenant;
    const mine = await countOf(tx, "SELECT COUNT(*) AS n FROM subscriptions WHERE tenant_id = ? AND owner_id = ?", [tenantId, caller.principal.identityId]);
    if (mine >= this.quotas.subscriptionsPerIdentity) throw quotaExceeded("subscriptions", "identity", this.quotas.subscriptionsPerIdentity, DELETE_ONE);
    const inTenant = await countOf(tx, "SELECT COUNT(*) AS n FROM subscriptions WHERE tenant_id = ?", [tenantId]);
    if (inTenant >= this.quotas.subscriptionsPerTenant) throw quotaExceeded("subscriptions", "tenant", this.quotas.subscriptionsPerTenant, DELETE_ONE);
  }

  private serialize(tx: Queryable, caller: Caller): Promise<void> {
    return takeTenantTurn(tx, this.dialect, TARGET_CREATION_LOCK, caller.tenant.tenantId);
  }
}
