import { connect, type Socket } from "node:net";
import { expect, it, vi } from "vitest";
import { SliceWalk } from "../shared/turn.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { statementTurns } from "../testing/turns.js";

/** Events in the backlog: 100 batches of the stream's 200, ~2 KB each (40 MB, past any socket buffer). */
const BACKLOG = 20_000;
const CATCH_UP = /FROM events WHERE tenant_id = \? AND dispatch_seq > \?/;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A stream over a raw socket, so that the test decides when the client reads. */
function rawStream(baseUrl: string, token: string, lastEventId: string): Promise<Socket> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.write(`GET /v1/events/stream HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${token}\r\nLast-Event-ID: ${lastEventId}\r\n\r\n`);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/**
 * A stream resumed from far back reads its backlog a batch per turn of the loop and only as fast
 * as the client takes it: the catch-up was one turn of a SQLite node for the whole backlog, and
 * every batch went into the process's memory whether or not the client read (docs/benchmarks.md
 * round 34).
 */
describeEachBackend("events: a stream's backlog", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_SSE_HEARTBEAT: "60s" } });

  let anchorId = "";

  it("is read as the client reads it, a batch per turn of the loop, and arrives whole", { timeout: 120_000 }, async () => {
    const { admin, adminToken, baseUrl, vault: server } = vault();
    expect((await admin.put("/v1/secrets/backlog/anchor", { data: { v: 1 } })).status).toBe(201);
    let anchor: { id: string; dispatch_seq: number | string | null } | undefined;
    for (let i = 0; i < 200 && !anchor?.dispatch_seq; i++) {
      anchor = await server.db.get("SELECT id, dispatch_seq FROM events WHERE tenant_id = 'tnt_default' ORDER BY created_at DESC LIMIT 1");
      if (!anchor?.dispatch_seq) await sleep(25);
    }
    const base = Number(anchor!.dispatch_seq);
    const numbers = backend === "sqlite" ? `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${BACKLOG}) SELECT n FROM s` : `SELECT generate_series(1, ${BACKLOG}) AS n`;
    // Copies of the anchor's event after it, each with a note that makes it ~2 KB on the wire.
    await server.db.run(
      `INSERT INTO events (id, partner_id, tenant_id, event_type, path, identity_id, request_id, data, created_at, dispatch_seq)
        SELECT 'evt_backlog' || n, e.partner_id, e.tenant_id, e.event_type, e.path, e.identity_id, e.request_id, ?, e.created_at, ? + n FROM events e, (${numbers}) s WHERE e.id = ?`,
      [JSON.stringify({ version: 1, note: "x".repeat(2000) }), base, anchor!.id],
    );

    let received = "";
    let whilePaused = 0;
    const turns = await statementTurns(server.db, CATCH_UP, async (catchUps) => {
      const socket = await rawStream(baseUrl, adminToken, anchor!.id);
      socket.pause();
      // The client reads nothing: the stream stops reading once its socket is full.
      let seen = -1;
      for (let i = 0; i < 100 && (whilePaused === 0 || seen !== whilePaused); i++) {
        seen = whilePaused;
        await sleep(100);
        whilePaused = catchUps.length;
      }
      socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
      socket.resume();
      // Until the whole backlog arrived and the stream read past it (its read after the last full batch).
      for (let i = 0; i < 1200 && (!received.includes(`id: evt_backlog${BACKLOG}\n`) || catchUps.length <= BACKLOG / 200); i++) await sleep(50);
      socket.destroy();
    });

    expect(received).toContain(`id: evt_backlog${BACKLOG}\n`);
    expect(received.match(/^id: evt_backlog\d+$/gm)).toHaveLength(BACKLOG);
    // All 100 batches (and the empty read after them) were read, each in a turn of its own.
    expect(turns.length).toBeGreaterThanOrEqual(BACKLOG / 200 + 1);
    expect(new Set(turns).size).toBe(turns.length);
    expect(whilePaused).toBeGreaterThan(0);
    expect(whilePaused).toBeLessThan(BACKLOG / 200);
    anchorId = anchor!.id;
  });

  /**
   * A caller who may read none of the backlog's paths gets nothing written, so no client slows its
   * catch-up: it takes turns in the node's shared slices of the loop (with audit verifications and
   * exports), a batch per slice, rather than reading the tenant's history at the loop's full speed
   * on every reconnect.
   */
  it("takes turns in the node's shared slices when the caller may see none of it", { timeout: 120_000 }, async () => {
    const { admin, baseUrl, vault: server } = vault();
    const token = await admin.post("/v1/auth/tokens", { identity_id: "sa:blind-reader", identity_type: "service_account", scopes: ["secrets:read"] });
    expect(token.status, token.text).toBe(201);
    const pauses = vi.spyOn(SliceWalk.prototype, "pause");
    let received = "";
    try {
      const turns = await statementTurns(server.db, CATCH_UP, async (catchUps) => {
        const socket = await rawStream(baseUrl, token.body.token, anchorId);
        socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
        for (let i = 0; i < 1200 && catchUps.length <= BACKLOG / 200; i++) await sleep(50);
        socket.destroy();
      });
      expect(turns.length).toBeGreaterThan(BACKLOG / 200);
      expect(received).not.toMatch(/^id: /m);
      // A slice of its own for each batch after a full one.
      expect(pauses.mock.calls.length).toBeGreaterThanOrEqual(BACKLOG / 200);
    } finally {
      pauses.mockRestore();
    }
  });
});
