import type { Database, Queryable } from "../storage/contract.js";
import { inJsonList } from "../storage/json-list.js";

export interface WebhookRow {
  id: string;
  partner_id: string;
  tenant_id: string;
  name: string;
  url: string;
  events: string;
  filters: string;
  enabled: number;
  signature_scheme: string;
  secret_sealed: Buffer;
  previous_secret_sealed: Buffer | null;
  previous_secret_expires_at: number | null;
  disabled_reason: string | null;
  created_by: string | null;
  created_at: number;
  updated_at: number;
}

export interface SubscriptionRow {
  id: string;
  partner_id: string;
  tenant_id: string;
  name: string;
  paths: string;
  events: string;
  filters: string;
  delivery_type: string;
  url: string | null;
  signature_scheme: string;
  secret_sealed: Buffer | null;
  buffer_size: number;
  status: string;
  owner_id: string;
  owner_type: string;
  owner_groups: string;
  owner_roles: string;
  /** JSON array of the owner's scopes at creation (migration 0510). */
  owner_scopes: string;
  created_at: number;
  updated_at: number;
}

const WEBHOOK_COLUMNS = ["id", "partner_id", "tenant_id", "name", "url", "events", "filters", "enabled", "signature_scheme", "secret_sealed", "previous_secret_sealed", "previous_secret_expires_at", "disabled_reason", "created_by", "created_at", "updated_at"] as const;
const SUBSCRIPTION_COLUMNS = ["id", "partner_id", "tenant_id", "name", "paths", "events", "filters", "delivery_type", "url", "signature_scheme", "secret_sealed", "buffer_size", "status", "owner_id", "owner_type", "owner_groups", "owner_roles", "owner_scopes", "created_at", "updated_at"] as const;

function insertSql(table: string, columns: readonly string[]): string {
  return `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`;
}
function updateSql(table: string, columns: readonly string[]): string {
  return `UPDATE ${table} SET ${columns.filter((c) => c !== "id").map((c) => `${c} = ?`).join(", ")} WHERE id = ?`;
}

/** Webhooks and subscriptions: the targets events are delivered to. */
export class TargetsStore {
  /** `tenant_id` in a JSON array of ids, along the tenant-led name indexes. */
  private readonly inTenants: string;

  constructor(private readonly db: Database) {
    this.inTenants = inJsonList(db.dialect, "tenant_id");
  }

  async insertWebhook(row: WebhookRow, tx: Queryable): Promise<void> {
    await tx.run(insertSql("webhooks", WEBHOOK_COLUMNS), WEBHOOK_COLUMNS.map((c) => row[c]));
    await this.markTargeted(row.tenant_id, tx);
  }
  async updateWebhook(row: WebhookRow, tx?: Queryable): Promise<void> {
    const cols = WEBHOOK_COLUMNS.filter((c) => c !== "id");
    await (tx ?? this.db).run(updateSql("webhooks", WEBHOOK_COLUMNS), [...cols.map((c) => row[c]), row.id]);
  }
  async webhook(tenantId: string, id: string, tx?: Queryable): Promise<WebhookRow | undefined> {
    return (tx ?? this.db).get<WebhookRow>("SELECT * FROM webhooks WHERE tenant_id = ? AND id = ?", [tenantId, id]);
  }
  async webhookById(id: string, tx?: Queryable): Promise<WebhookRow | undefined> {
    return (tx ?? this.db).get<WebhookRow>("SELECT * FROM webhooks WHERE id = ?", [id]);
  }
  async listWebhooks(tenantId: string, afterId: string | null, limit: number): Promise<WebhookRow[]> {
    return this.db.all<WebhookRow>("SELECT * FROM webhooks WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?", [tenantId, afterId ?? "", limit]);
  }
  /** The enabled webhooks of these tenants only: a pass never reads what other tenants hold. */
  async enabledWebhooks(tenantIds: readonly string[], q: Queryable): Promise<WebhookRow[]> {
    return q.all<WebhookRow>(`SELECT * FROM webhooks WHERE ${this.inTenants} AND enabled = 1`, [JSON.stringify(tenantIds)]);
  }
  async deleteWebhook(tenantId: string, id: string, tx: Queryable): Promise<boolean> {
    return (await tx.run("DELETE FROM webhooks WHERE tenant_id = ? AND id = ?", [tenantId, id])).changes > 0;
  }
  async disableWebhook(id: string, reason: string): Promise<void> {
    await this.db.run("UPDATE webhooks SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ?", [reason, Date.now(), id]);
  }

  async insertSubscription(row: SubscriptionRow, tx: Queryable): Promise<void> {
    await tx.run(insertSql("subscriptions", SUBSCRIPTION_COLUMNS), SUBSCRIPTION_COLUMNS.map((c) => row[c]));
    await this.markTargeted(row.tenant_id, tx);
  }

  /**
   * In the creating transaction: from its commit on, the fan-out pass reads this tenant's targets
   * for its events. Never taken back (a deleted or disabled target leaves it): a tenant whose targets
   * are all gone costs its events' passes one tenant-scoped read that finds nothing, whereas taking
   * it back would race a creation committing beside the deletion and lose that target's events.
   */
  private async markTargeted(tenantId: string, tx: Queryable): Promise<void> {
    await tx.run("INSERT INTO event_target_tenants (tenant_id) VALUES (?) ON CONFLICT (tenant_id) DO NOTHING", [tenantId]);
  }
  async updateSubscription(row: SubscriptionRow, tx?: Queryable): Promise<void> {
    const cols = SUBSCRIPTION_COLUMNS.filter((c) => c !== "id");
    await (tx ?? this.db).run(updateSql("subscriptions", SUBSCRIPTION_COLUMNS), [...cols.map((c) => row[c]), row.id]);
  }
  async subscription(tenantId: string, id: string, tx?: Queryable): Promise<SubscriptionRow | undefined> {
    return (tx ?? this.db).get<SubscriptionRow>("SELECT * FROM subscriptions WHERE tenant_id = ? AND id = ?", [tenantId, id]);
  }
  async subscriptionById(id: string, tx?: Queryable): Promise<SubscriptionRow | undefined> {
    return (tx ?? this.db).get<SubscriptionRow>("SELECT * FROM subscriptions WHERE id = ?", [id]);
  }
  async listSubscriptions(tenantId: string, ownerId: string | null, afterId: string | null, limit: number): Promise<SubscriptionRow[]> {
    return ownerId === null
      ? this.db.all<SubscriptionRow>("SELECT * FROM subscriptions WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?", [tenantId, afterId ?? "", limit])
      : this.db.all<SubscriptionRow>("SELECT * FROM subscriptions WHERE tenant_id = ? AND owner_id = ? AND id > ? ORDER BY id LIMIT ?", [tenantId, ownerId, afterId ?? "", limit]);
  }
  async activeSubscriptions(tenantIds: readonly string[], q: Queryable): Promise<SubscriptionRow[]> {
    return q.all<SubscriptionRow>(`SELECT * FROM subscriptions WHERE ${this.inTenants} AND status = 'active'`, [JSON.stringify(tenantIds)]);
  }
  async deleteSubscription(tenantId: string, id: string, tx: Queryable): Promise<boolean> {
    await tx.run("DELETE FROM subscription_inbox WHERE subscription_id = ?", [id]);
    return (await tx.run("DELETE FROM subscriptions WHERE tenant_id = ? AND id = ?", [tenantId, id])).changes > 0;
  }
  async disableSubscription(id: string): Promise<void> {
    await this.db.run("UPDATE subscriptions SET status = 'disabled', updated_at = ? WHERE id = ?", [Date.now(), id]);
  }
}
