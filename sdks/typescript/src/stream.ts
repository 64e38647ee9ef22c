import type { Transport } from "./transport.js";
import { urlFor } from "./transport.js";
import type { VaultEvent } from "./types.js";

export interface StreamHandlers {
  onEvent(event: VaultEvent): void;
  /** Called on every (re)connection; `resumed` is false when events may have been missed. */
  onOpen?(resumed: boolean): void;
  onDown?(error: unknown): void;
}

/**
 * A Server-Sent Events reader for `GET /v1/events/stream` that reconnects with backoff and resumes
 * with `Last-Event-ID`. Used by the cache; `close()` stops it and its timers.
 */
export class EventStream {
  private controller: AbortController | null = null;
  private stopped = false;
  private lastEventId: string | null = null;
  private connected = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly http: Transport,
    private readonly handlers: StreamHandlers,
    private readonly query: { paths?: string; events?: string } = {},
  ) {}

  get isConnected(): boolean {
    return this.connected;
  }

  start(): void {
    void this.loop();
  }

  close(): void {
    this.stopped = true;
    this.connected = false;
    this.controller?.abort();
    this.wake?.();
  }

  private async loop(): Promise<void> {
    let backoff = 500;
    while (!this.stopped) {
      try {
        await this.connectOnce(() => {
          backoff = 500;
        });
      } catch (error) {
        if (this.stopped) break;
        this.handlers.onDown?.(error);
      }
      this.connected = false;
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoff);
        // A reconnect wait never keeps a process alive on its own (e.g. a script that forgot close()).
        (timer as { unref?: () => void }).unref?.();
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      backoff = Math.min(backoff * 2, 30_000);
    }
  }

  private async connectOnce(onOpen: () => void): Promise<void> {
    this.controller = new AbortController();
    const headers = await this.http.headers({ accept: "text/event-stream" });
    const resuming = this.lastEventId;
    if (resuming) headers["last-event-id"] = resuming;
    const response = await this.http.fetch(urlFor(this.http.baseUrl, "/v1/events/stream", this.query), { headers, signal: this.controller.signal });
    if (!response.ok || !response.body) {
      await response.body?.cancel().catch(() => {});
      throw new Error(`event stream answered ${response.status}`);
    }
    if (this.stopped) return;
    this.connected = true;
    onOpen();
    // Without a resume point every cached value might be stale: the caller clears.
    this.handlers.onOpen?.(resuming !== null);
    const decoder = new TextDecoder();
    let buffer = "";
    let data: string[] = [];
    let id: string | null = null;
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffer.search(/\r?\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer[newline] === "\r" ? 2 : 1));
        if (line === "") {
          if (id !== null) this.lastEventId = id;
          if (data.length) this.dispatch(data.join("\n"));
          data = [];
          id = null;
        } else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        else if (line.startsWith("id:")) id = line.slice(3).trim();
      }
    }
    throw new Error("event stream closed");
  }

  private dispatch(text: string): void {
    try {
      const event = JSON.parse(text) as VaultEvent;
      if (event && typeof event === "object" && typeof event.event_type === "string") this.handlers.onEvent(event);
    } catch {
      // A keep-alive or a line we do not understand; nothing to invalidate.
    }
  }
}
