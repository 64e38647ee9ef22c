import { EventEmitter } from "node:events";
import type { PrincipalRefiner } from "../access/authenticator.js";
import type { Authorizer } from "../access/authorizer.js";
import type { Principal, Role } from "../access/principal.js";
import type { Caller } from "../http/context.js";
import { VaultError, type ErrorCode } from "../http/errors.js";
import { newSortableId } from "../shared/ids.js";
import { LoopSlices } from "../shared/turn.js";
import { writeDeferred, type Database, type Queryable, type SqlParam } from "../storage/contract.js";
import { eventTypeMatches, mayReceivePathless, pathMatchesAny, webhookFiltersMatch, type WebhookFilters } from "./catalogue.js";
import { toEvent, type DeliveryStore, type EventRow } from "./delivery-store.js";
import { numbersAtWrite, restoreDispatchState, type VaultEvent } from "./outbox.js";
import type { SubscriptionRow, TargetsStore, WebhookRow } from "./targets-store.js";

/** Events a fan-out pass takes at most. */
export const DISPATCH_BATCH = 200;

/** What one pass committed: events dispatched, and push deliveries made for them (inbox entries are not deliveries). */
export interface PassResult {
  events: number;
  deliveries: number;
}
const NOTHING: PassResult = { events: 0, deliveries: 0 };
/** LoopSlices reads its clock once per 256 items: each (subscription, event) check counts as all of them. */
const SLICE_CHECK_EVERY = 256;
/** What the directory answers for an owner it has disabled or deleted, or whose tenant it suspended: no delivery. */
const REFUSED_OWNER: ReadonlySet<ErrorCode> = new Set<ErrorCode>(["token_revoked", "tenant_access_denied"]);

/**
 * An undispatched event as the pass first sees it: its place in the outbox, what routes it, and
 * whether its tenant has any enabled webhook or active subscription (1) at all.
 */
type PeekedEvent = Pick<EventRow, "id" | "tenant_id" | "event_type" | "path"> & { outbox_pos: number | string; targeted: number | string };

/**
 * PostgreSQL: whether an event's tenant may have a target, as an uncorrelated hashed subplan over
 * the tenants that ever created one (one row each). It hashed every enabled webhook and active
 * subscription of every tenant before (~16 ms a pass at 50,000 subscriptions); the correlated
 * EXISTS form measured 4–6× slower on few events, and PostgreSQL may plan it as a sequential scan
 * per event (a tenant's share of the table is all its statistics know). The tenant-scoped target
 * reads then say exactly which are enabled. SQLite decides this as the event is written (outbox.ts).
 */
const TARGETED_PG = "CASE WHEN tenant_id IN (SELECT tenant_id FROM event_target_tenants) THEN 1 ELSE 0 END AS targeted";
const READ_DISPATCH_STATE = "SELECT last_seq FROM event_dispatch_state WHERE id = 1";
// Any fixed number: only the fan-out pass takes this advisory lock.
const FANOUT_LOCK_KEY = 7_305_001;

function ownerScopes(sub: SubscriptionRow): ReadonlySet<string> {
  return new Set(JSON.parse(sub.owner_scopes ?? "[]") as string[]);
}

/** The subscription's owner as stored at creation: identity, groups and roles. */
function storedOwner(sub: SubscriptionRow): Principal {
  return {
    identityId: sub.owner_id,
    identityType: sub.owner_type as Principal["identityType"],
    displayName: null,
    partnerId: sub.partner_id,
    tenantId: sub.tenant_id,
    scopes: new Set<string>(),
    groups: JSON.parse(sub.owner_groups) as string[],
    roles: JSON.parse(sub.owner_roles) as Role[],
    mfaVerifiedAt: null,
    tokenExpiresAt: null,
    tokenKind: "system",
    tokenId: null,
  };
}

/**
 * A subscription is evaluated as its owner: `principal` is the stored owner (storedOwner), or the
 * same refined by the directory (the owner's groups and status as they are now).
 */
export function ownerCaller(sub: SubscriptionRow, principal: Principal): Caller {
  const requestId = `req_subscription_${sub.id}`;
  return {
    principal,
    tenant: { tenantId: sub.tenant_id, partnerId: sub.partner_id },
    requestId,
    ctx: {
      requestId, route: {}, routeMatched: true, startedAt: process.hrtime.bigint(), sourceIp: "", userAgent: null, principal, tenant: { tenantId: sub.tenant_id, partnerId: sub.partner_id },
      tenantFromUrl: null, bodyInvalid: false, errorCode: null, audit: { action: null, secretPath: null, extra: {}, recorded: true },
    },
  };
}

/**
 * The pass's first read: the events it has yet to handle, in outbox order (`?`: how many).
 * PostgreSQL: those not yet numbered, by insert order. SQLite numbers at insert and leaves for the
 * pass only events whose tenant had a target then (outbox.ts), by their number.
 */
export function peekSql(dialect: Database["dialect"]): string {
  return dialect === "postgres"
    ? `SELECT outbox_seq AS outbox_pos, id, tenant_id, event_type, path, ${TARGETED_PG} FROM events WHERE dispatch_seq IS NULL ORDER BY outbox_seq LIMIT ?`
    : "SELECT dispatch_seq AS outbox_pos, id, tenant_id, event_type, path, 1 AS targeted FROM events WHERE fanout_pending IS NOT NULL ORDER BY dispatch_seq LIMIT ?";
}

/** The peeked events (`?`, `?`: the first and last position) that are still waiting, inside the pass's transaction. */
function openSql(dialect: Database["dialect"], columns: string): string {
  return dialect === "postgres"
    ? `SELECT ${columns} FROM events WHERE dispatch_seq IS NULL AND outbox_seq >= ? AND outbox_seq <= ?`
    : `SELECT ${columns} FROM events WHERE fanout_pending IS NOT NULL AND dispatch_seq >= ? AND dispatch_seq <= ?`;
}

/**
 * The fan-out pass: reads outbox events not yet dispatched, in insert order, numbers them in
 * commit order (`dispatch_seq`; SQLite's were numbered as they were written) and turns each into a
 * delivery per matching webhook or webhook subscription, or an inbox entry per matching polling
 * subscription. One pass at a time across all nodes (an advisory lock on PostgreSQL, the single
 * writer on SQLite).
 */
export class Dispatcher {
  /** Emits "dispatched" (tenant ids) after each pass that committed something, and on SQLite once a turn for events numbered as they committed. */
  readonly signal = new EventEmitter();
  private committedTenants: Set<string> | null = null;

  constructor(private readonly deps: {
    db: Database; targets: TargetsStore; deliveries: DeliveryStore; authorizer: Authorizer;
    /** The identity gate (identity/gate.ts): the directory's say over an owner it knows, and its tenant's status. */
    owners?: PrincipalRefiner | null;
    log?: (msg: string, extra?: Record<string, unknown>) => void;
  }) {
    this.signal.setMaxListeners(0);
  }

  /**
   * The subscription's owner as the directory knows it now: a group left or renamed takes its grants
   * with it, and an owner disabled or deleted there (or a tenant suspended) gets nothing (null). The
   * stored groups and roles stand for owners the directory does not know.
   */
  private async currentOwner(sub: SubscriptionRow): Promise<Caller | null> {
    const stored = storedOwner(sub);
    if (!this.deps.owners) return ownerCaller(sub, stored);
    try {
      return ownerCaller(sub, await this.deps.owners.refine(stored));
    } catch (error) {
      if (error instanceof VaultError && REFUSED_OWNER.has(error.code)) return null;
      throw error;
    }
  }

  /**
   * An event has committed on this node. SQLite numbered it in its transaction, so streams may read
   * it now: they are woken once per turn of the event loop, for every tenant of the turn's commits.
   */
  committed(event: VaultEvent): void {
    if (!numbersAtWrite(this.deps.db.dialect) || event.tenant_id === null) return;
    if (this.committedTenants) {
      this.committedTenants.add(event.tenant_id);
      return;
    }
    this.committedTenants = new Set([event.tenant_id]);
    setImmediate(() => {
      const tenants = this.committedTenants as Set<string>;
      this.committedTenants = null;
      this.signal.emit("dispatched", [...tenants]);
    });
  }

  /** Runs one pass. */
  async pass(): Promise<PassResult> {
    const { db } = this.deps;
    const numberedAtInsert = numbersAtWrite(db.dialect);
    // Only what routing needs; whole rows are read in the transaction, and only when some event
    // belongs to a tenant with a target (a third of the cost of reading every column).
    const peeked = await db.all<PeekedEvent>(peekSql(db.dialect), [DISPATCH_BATCH]);
    if (peeked.length === 0) return NOTHING;
    // The targets themselves (and their owners' policies) are read only for the peeked events'
    // tenants that have one: a pass over events nobody listens to costs the peek and its
    // transaction, and another tenant's targets cost this pass nothing (read whole, 50 tenants'
    // 50,000 subscriptions made each pass 650 ms on SQLite; docs/benchmarks.md round 27).
    // The peek saw every target created before its events committed, as the list reads did.
    const targetedTenants = [...new Set(peeked.flatMap((row) => (Number(row.targeted) === 1 && row.tenant_id !== null ? [row.tenant_id] : [])))];
    const anyTargeted = targetedTenants.length > 0;
    // Targets and their owners' policies are loaded before the transaction: policy evaluation
    // reads the database itself, which SQLite's single writer forbids inside our transaction. Which
    // subscription takes which peeked event is decided here too, and the transaction then handles
    // exactly the peeked events (any that committed since wait for the next pass).
    const webhooks = anyTargeted ? await this.deps.targets.enabledWebhooks(targetedTenants, db) : [];
    const subscriptions = anyTargeted ? await this.deps.targets.activeSubscriptions(targetedTenants, db) : [];
    const { reaches, refused } = await this.routeSubscriptions(subscriptions, peeked);
    // An event of a tenant without any webhook or subscription is only numbered, never read whole.
    const targeted = new Set<string>([...webhooks.map((h) => h.tenant_id), ...subscriptions.map((sub) => sub.tenant_id)]);
    const readWhole = peeked.some((row) => row.tenant_id !== null && targeted.has(row.tenant_id));
    const tenants = new Set<string>();
    let deliveries = 0;
    const count = await db.transaction(async (tx) => {
      // Which peeked events are still undispatched (another pass may have taken some meanwhile),
      // in peek order. One statement text whatever the batch size (an IN list of every length was
      // prepared afresh each pass); events outside the peek that fall in the range wait for the
      // next pass.
      const open = openSql(db.dialect, readWhole ? "*" : "id");
      const range = [peeked[0].outbox_pos, peeked[peeked.length - 1].outbox_pos];
      let state: { last_seq: number | string } | undefined;
      let openAhead: (() => Promise<EventRow[] | null>) | null = null;
      if (db.dialect === "postgres") {
        // One message for the pass's lock, the state row and the open events read (run after
        // them). The state row is read only once the advisory lock is held: a pass that does not
        // get it gets no row. FOR UPDATE reads the row's latest committed version even when the
        // pass that last moved it committed after this statement's snapshot was taken.
        openAhead = tx.alongFirst?.<EventRow>(open, range) ?? null;
        state = await tx.get("SELECT last_seq FROM event_dispatch_state WHERE id = 1 AND pg_try_advisory_xact_lock(?) FOR UPDATE", [FANOUT_LOCK_KEY]);
        // No row: another node's pass holds the lock, or the row itself is gone (the lock was then
        // never tried: the row's condition failed first). Only the second is this pass's to mend.
        if (!state && !(await this.mayRestoreState(tx))) return 0;
        // A lost state row must neither stop dispatch nor number events again from 1: it is put
        // back at the highest number given so far.
        state ??= { last_seq: await restoreDispatchState(tx, 0, this.deps.log) };
      }
      let seq = Number(state?.last_seq ?? 0);
      const waiting = (await openAhead?.()) ?? (await tx.all<EventRow>(open, range));
      const undispatched = new Map(waiting.map((r) => [r.id, r]));
      const rows = peeked.filter((r) => undispatched.has(r.id));
      if (rows.length === 0) return 0;
      const numbered: SqlParam[] = [];
      for (const row of rows) {
        seq = numberedAtInsert ? Number(row.outbox_pos) : seq + 1;
        if (!numberedAtInsert) numbered.push(row.id, seq);
        if (row.tenant_id === null) continue;
        tenants.add(row.tenant_id);
        if (targeted.has(row.tenant_id)) deliveries += await this.fanOut(tx, toEvent(undispatched.get(row.id) as EventRow), seq, webhooks, subscriptions, reaches, refused);
      }
      if (numberedAtInsert) {
        // The range holds exactly the peeked events: numbers are commit order, so every waiting
        // event numbered up to the last peeked one had committed when the peek read the first 200.
        await tx.run("UPDATE events SET fanout_pending = NULL WHERE fanout_pending IS NOT NULL AND dispatch_seq >= ? AND dispatch_seq <= ?", range);
        return rows.length;
      }
      // Nothing in this transaction reads the numbers back (deliveries carry their own copy), so on
      // PostgreSQL both statements ride with the COMMIT that follows them: a pass costs the same
      // round trips for one event as for a full batch.
      const numbering = `UPDATE events SET dispatch_seq = CASE id ${rows.map(() => "WHEN ? THEN CAST(? AS BIGINT)").join(" ")} END WHERE id IN (${rows.map(() => "?").join(", ")})`;
      await writeDeferred(tx, numbering, [...numbered, ...rows.map((r) => r.id)]);
      await writeDeferred(tx, "UPDATE event_dispatch_state SET last_seq = ? WHERE id = 1", [seq]);
      return rows.length;
    });
    if (count > 0) this.signal.emit("dispatched", [...tenants]);
    return { events: count, deliveries: count > 0 ? deliveries : 0 };
  }

  /**
   * PostgreSQL, after the pass's first statement found no state row: true when this pass now holds
   * the lock and the row is really missing. A row that shows up now was committed by a pass that
   * held the lock until after the open events were read; those may include events it numbered, so
   * this pass leaves them to the next one.
   */
  private async mayRestoreState(tx: Queryable): Promise<boolean> {
    const lock = await tx.get<{ held: boolean }>("SELECT pg_try_advisory_xact_lock(?) AS held", [FANOUT_LOCK_KEY]);
    return lock?.held === true && !(await tx.get(READ_DISPATCH_STATE));
  }

  /** Tenant, event type and a path: what can be decided without the owner's policies (its patterns come after them). */
  private couldReach(sub: SubscriptionRow, row: PeekedEvent): boolean {
    return sub.tenant_id === row.tenant_id && row.path !== null && eventTypeMatches(JSON.parse(sub.events) as string[], row.event_type);
  }

  /**
   * The peeked events with a path that each subscription takes: its owner may read the path, then
   * one of its patterns matches (issue 13: no pattern work on paths the owner may not see). Done
   * once per pass, before its transaction, and in slices of the loop: matching was done here and
   * again per event inside the transaction, where on SQLite nothing else runs, and one tenant's 100
   * subscriptions of 100 long patterns held a node 9.6 s per event (docs/benchmarks.md round 37).
   * `refused`: subscriptions whose owner is gone or may no longer hold them.
   */
  private async routeSubscriptions(subscriptions: readonly SubscriptionRow[], peeked: readonly PeekedEvent[]): Promise<{ reaches: Map<string, Set<string>>; refused: Set<string> }> {
    const reaches = new Map<string, Set<string>>();
    const refused = new Set<string>();
    const slices = new LoopSlices();
    for (const sub of subscriptions) {
      const candidates = peeked.filter((row) => this.couldReach(sub, row));
      if (candidates.length === 0) continue;
      const owner = await this.currentOwner(sub);
      if (!owner) {
        refused.add(sub.id);
        continue;
      }
      const evaluate = await this.deps.authorizer.forCaller(owner);
      const paths = JSON.parse(sub.paths) as string[];
      const reached = new Set<string>();
      for (const row of candidates) {
        if (evaluate(row.path as string, "read").allowed && pathMatchesAny(paths, row.path)) reached.add(row.id);
        // A subscription's patterns against one path can take milliseconds: the clock is read after each.
        if (slices.due(SLICE_CHECK_EVERY)) await slices.pause();
      }
      if (reached.size > 0) reaches.set(sub.id, reached);
    }
    return { reaches, refused };
  }

  /** Returns how many push deliveries it made. */
  private async fanOut(tx: Queryable, event: VaultEvent, seq: number, webhooks: WebhookRow[], subscriptions: SubscriptionRow[], reaches: ReadonlyMap<string, ReadonlySet<string>>, refused: ReadonlySet<string>): Promise<number> {
    let made = 0;
    let tags: string[] | null | undefined;
    const tagsOf = () => tags ?? null;
    const needTags = async (filters: WebhookFilters) => {
      if (tags === undefined && filters.tags?.length && event.path) {
        const secret = await tx.get<{ metadata: string }>("SELECT metadata FROM secrets WHERE tenant_id = ? AND path = ?", [event.tenant_id, event.path]);
        tags = secret ? ((JSON.parse(secret.metadata) as { tags?: string[] }).tags ?? []) : null;
      }
    };
    for (const hook of webhooks) {
      if (hook.tenant_id !== event.tenant_id || !eventTypeMatches(JSON.parse(hook.events) as string[], event.event_type)) continue;
      const filters = JSON.parse(hook.filters) as WebhookFilters;
      await needTags(filters);
      if (!webhookFiltersMatch(filters, event, tagsOf)) continue;
      await this.insertDelivery(tx, "webhook", hook.id, hook.partner_id, hook.tenant_id, event, seq);
      made += 1;
    }
    for (const sub of subscriptions) {
      if (sub.tenant_id !== event.tenant_id || refused.has(sub.id) || !eventTypeMatches(JSON.parse(sub.events) as string[], event.event_type)) continue;
      // The owner's read permission first: no pattern work on events the owner may not see (issue 13).
      if (event.path === null) {
        // About no path: the owner needs the event domain's scope instead (SPEC §7).
        if (!mayReceivePathless(ownerScopes(sub), event.event_type)) continue;
      } else {
        if (!reaches.get(sub.id)?.has(event.event_id)) continue;
      }
      const filters = JSON.parse(sub.filters) as WebhookFilters;
      await needTags(filters);
      if (!webhookFiltersMatch(filters, event, tagsOf)) continue;
      if (sub.delivery_type === "polling") await this.deps.deliveries.addToInbox(sub.id, event.event_id, seq, sub.buffer_size, tx);
      else {
        await this.insertDelivery(tx, "subscription", sub.id, sub.partner_id, sub.tenant_id, event, seq);
        made += 1;
      }
    }
    return made;
  }

  private async insertDelivery(tx: Queryable, kind: "webhook" | "subscription", targetId: string, partnerId: string, tenantId: string, event: VaultEvent, seq: number): Promise<void> {
    const now = Date.now();
    await this.deps.deliveries.insert(
      {
        id: newSortableId("del", now), partner_id: partnerId, tenant_id: tenantId, target_kind: kind, target_id: targetId, event_id: event.event_id, event_type: event.event_type,
        ordering_key: event.path ?? "", dispatch_seq: seq, status: "pending", attempts: 0, next_attempt_at: now, lease_until: null, lease_owner: null,
        response_code: null, last_error: null, duration_ms: null, created_at: now, updated_at: now, delivered_at: null,
      },
      tx,
    );
  }
}
