import type { ServerResponse } from "node:http";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Authorizer, Evaluator } from "../access/authorizer.js";
import type { Principal } from "../access/principal.js";
import type { AuditRecorder } from "../audit/recorder.js";
import type { Caller, LiveAdmission } from "../http/context.js";
import { callerOf } from "../http/pipeline.js";
import { eventTypeMatches, mayReceivePathless, pathMatchesAny, requireEventFilters, requirePathGlobs } from "./catalogue.js";
import { toEvent, type DeliveryStore, type EventRow } from "./delivery-store.js";
import type { Dispatcher } from "./dispatcher.js";
import type { StreamQuery } from "./schemas.js";
import { isStorageUnavailable } from "../storage/contract.js";
import { nextTurn, type SharedSlices, type SliceWalk } from "../shared/turn.js";

const BATCH = 200;
/** How long one batch's sending may hold the loop before the rest waits for the stream's next turn. */
const SEND_SLICE_MS = 10;

/** The caller as it is now, with its policies, for one batch of events. */
interface Judged {
  principal: Principal;
  evaluate: Evaluator;
}

function list(text: string | undefined): string[] | null {
  if (text === undefined) return null;
  const items = text.split(",").map((s) => s.trim()).filter(Boolean);
  return items.length > 0 ? items : null;
}

/**
 * `GET /v1/events/stream`: Server-Sent Events in commit order (`dispatch_seq`), each with an `id:`
 * line; `Last-Event-ID` resumes from the stored events after that one. Events on paths go only to
 * callers who may `read` the path; events about no path only to callers holding their domain's
 * scope (SPEC §7: policies:read, identity:read, pki:admin, dynamic:manage; admin for the rest).
 */
export class EventStreams {
  private readonly open = new Set<() => void>();

  constructor(private readonly deps: { deliveries: DeliveryStore; dispatcher: Dispatcher; authorizer: Authorizer; audit: AuditRecorder; pollIntervalMs: number; heartbeatMs: number; catchUps: SharedSlices }) {}

  closeAll(): void {
    for (const close of [...this.open]) close();
  }

  async serve(request: FastifyRequest<{ Querystring: StreamQuery }>, reply: FastifyReply): Promise<void> {
    const caller = callerOf(request);
    const paths = list(request.query.paths);
    const events = list(request.query.events);
    if (paths) requirePathGlobs("paths", paths);
    if (events) requireEventFilters("events", events);
    const header = request.headers["last-event-id"];
    const lastEventId = (typeof header === "string" && header !== "" ? header : undefined) ?? request.query.last_event_id;
    let position = await this.deps.deliveries.lastDispatchSeq();
    let resumeNote: string | null = null;
    if (lastEventId) {
      const seen = await this.deps.deliveries.event(lastEventId);
      if (seen && seen.tenant_id === caller.tenant.tenantId && seen.dispatch_seq !== null && seen.dispatch_seq > 0) position = seen.dispatch_seq;
      else resumeNote = "unknown Last-Event-ID; streaming from now";
    }
    caller.ctx.audit.extra = { stream: true, resumed: Boolean(lastEventId) };
    await this.deps.audit.recordRequest(caller.ctx, 200);

    reply.hijack();
    const raw = reply.raw;
    // Hijacked, so the headers set on the reply (security headers, rate limit) are written here.
    raw.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache, no-transform", connection: "keep-alive", "x-request-id": caller.requestId, "x-accel-buffering": "no" });
    raw.write(`retry: 2000\n: ${resumeNote ?? "connected"}\n\n`);

    let closed = false;
    let wake: (() => void) | null = null;
    let unblock: (() => void) | null = null;
    let missed = false;
    // A refused re-admission (a token revoked or expired, the identity disabled, the tenant
    // suspended) ends the stream with a last `error` event (SPEC §1 envelope).
    const live = caller.ctx.live ?? null;
    const credential = live?.signal ?? null;
    const onCredentialEnd = () => {
      const error = credential?.reason as { code: string; message: string; details?: Record<string, unknown> };
      raw.write(`event: error\ndata: ${JSON.stringify({ error: { code: error.code, message: error.message, details: error.details ?? {}, request_id: caller.requestId } })}\n\n`);
      close();
    };
    const close = () => {
      if (closed) return;
      closed = true;
      credential?.removeEventListener("abort", onCredentialEnd);
      this.open.delete(close);
      this.deps.dispatcher.signal.off("dispatched", onDispatch);
      clearInterval(heartbeat);
      wake?.();
      unblock?.();
      raw.end();
    };
    const onDispatch = (tenants: string[]) => {
      if (!tenants.includes(caller.tenant.tenantId)) return;
      if (wake) wake();
      else missed = true;
    };
    const heartbeat = setInterval(() => raw.write(": heartbeat\n\n"), this.deps.heartbeatMs);
    this.open.add(close);
    this.deps.dispatcher.signal.on("dispatched", onDispatch);
    request.raw.on("close", close);
    raw.on("error", close);
    if (credential?.aborted) onCredentialEnd();
    else credential?.addEventListener("abort", onCredentialEnd, { once: true });

    // While catching up (full batches), this stream's turns in the node's shared slices of the loop.
    let walk: SliceWalk | null = null;
    // The rows of a batch the last slice did not reach, sent before anything is read again.
    let rest: EventRow[] = [];
    let batchWasFull = false;
    try {
      while (!closed) {
        let rows: EventRow[];
        let judged: Judged | null = null;
        try {
          const after = position;
          const read = () => this.deps.deliveries.eventsAfter(caller.tenant.tenantId, after, BATCH);
          if (rest.length > 0) rows = rest;
          else {
            rows = walk ? await walk.read(read) : await read();
            batchWasFull = rows.length === BATCH;
          }
          rest = [];
          if (rows.length > 0) judged = await this.judge(caller, live);
        } catch (error) {
          // A database that hangs or is down for a while does not end the stream (issue 13): it
          // waits on its own path and resumes from its position once storage answers again.
          if (!isStorageUnavailable(error)) throw error;
          rows = [];
          batchWasFull = false;
          missed = false;
        }
        if (judged) {
          const looked = this.send(raw, rows, judged, events, paths);
          position = rows[looked - 1].dispatch_seq as number;
          // What the slice did not reach goes out in the stream's next turn, as a catch-up's next batch.
          rest = rows.slice(looked);
        }
        // A reader slower than the backlog (a resume after days away, a client that stopped
        // reading): the next batch is read once this one has gone out, not into this process's
        // memory, which held a whole catch-up before.
        if (raw.writableNeedDrain && !closed) {
          walk?.end();
          await new Promise<void>((resolve) => {
            const done = () => {
              raw.off("drain", done);
              unblock = null;
              resolve();
            };
            unblock = done;
            raw.on("drain", done);
          });
        }
        if (batchWasFull || rest.length > 0) {
          missed = false;
          // A catch-up (a resume from far back) reads batch after batch, and when the caller may see
          // none of the events nothing is sent, so no client slows it: a month of a tenant's events
          // was read at the loop's full speed, once per reconnect. Catch-ups take turns in the
          // slices every long walk on the node shares (about half the loop for all of them,
          // src/shared/turn.ts), a batch per slice.
          walk ??= await this.deps.catchUps.walk();
          await walk.pause();
          continue;
        }
        walk?.end();
        walk = null;
        if (missed) {
          missed = false;
          await nextTurn();
          continue;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, this.deps.pollIntervalMs);
          function done() {
            clearTimeout(timer);
            wake = null;
            resolve();
          }
          wake = done;
        });
      }
    } catch (error) {
      // A refused re-admission has already ended the stream with its error event.
      if (!closed) request.log.warn({ err: { name: (error as Error).name, kind: (error as { kind?: string }).kind } }, "event stream ended by an error");
      close();
    } finally {
      walk?.end();
    }
  }

  /**
   * Writes the events the caller may read and asked for, from the start of `rows` for one slice of
   * the loop at most; returns how many rows it looked at (one at least). A `paths` filter of long
   * globs costs up to ~1 ms per long path: a review's 201-event catch-up held the loop 1.6 s in
   * this loop before.
   */
  private send(raw: ServerResponse, rows: readonly EventRow[], judged: Judged, events: string[] | null, paths: string[] | null): number {
    const started = performance.now();
    let looked = 0;
    for (const row of rows) {
      if (looked > 0 && performance.now() - started > SEND_SLICE_MS) break;
      looked++;
      // The caller's permission first: no pattern work on events it may not see (issue 13).
      if (row.path === null ? !mayReceivePathless(judged.principal.scopes, row.event_type) : !judged.evaluate(row.path, "read").allowed) continue;
      // secret.accessed only when named explicitly, also without an events filter (SPEC §7).
      if (!eventTypeMatches(events ?? ["*"], row.event_type)) continue;
      if (paths && !pathMatchesAny(paths, row.path)) continue;
      const event = toEvent(row);
      raw.write(`id: ${event.event_id}\nevent: ${event.event_type}\ndata: ${JSON.stringify(event)}\n\n`);
    }
    return looked;
  }

  /**
   * The caller as it is now, for events just read: re-admitted when access moved since (so the
   * events are judged by access at least as new as their commit), its policies as of now
   * (cached per access epoch; a binding's expiry and time conditions apply on time).
   */
  private async judge(caller: Caller, live: LiveAdmission | null): Promise<Judged> {
    const now = live ? { ...caller, ...(await live.current()) } : caller;
    return { principal: now.principal, evaluate: await this.deps.authorizer.forCaller(now) };
  }
}
