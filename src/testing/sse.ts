export interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: any;
}

export interface OpenStream {
  response: Response;
  /** Every block with a `data:` line, in order (the final `error` event has no `id:`). */
  events: SseEvent[];
  /** Comment lines (`: connected`, `: heartbeat`), without the colon. */
  comments: string[];
  /** Everything received so far, as sent. */
  readonly text: string;
  readonly ended: boolean;
  /** Resolves once the server ended the stream (or the test closed it). */
  finished: Promise<void>;
  /** Waits until the events received satisfy `predicate`; throws what arrived when `timeoutMs` pass first. */
  until(predicate: (events: SseEvent[]) => boolean, timeoutMs?: number): Promise<SseEvent[]>;
  close(): Promise<void>;
}

/**
 * `GET /v1/events/stream` read over fetch, the way an SDK's EventSource would: `token` as a bearer
 * (or none, for a console cookie in `headers`), `query` as given (`?paths=…`).
 */
export async function openStream(baseUrl: string, options: { token?: string; headers?: Record<string, string>; query?: string } = {}): Promise<OpenStream> {
  const controller = new AbortController();
  const headers = { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers };
  const response = await fetch(`${baseUrl}/v1/events/stream${options.query ?? ""}`, { headers, signal: controller.signal });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let text = "";
  let ended = false;
  const finished = (async () => {
    if (!response.body) return;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const chunk = decoder.decode(value, { stream: true });
        text += chunk;
        buffer += chunk;
        for (let cut = buffer.indexOf("\n\n"); cut >= 0; cut = buffer.indexOf("\n\n")) {
          const lines = buffer.slice(0, cut).split("\n");
          buffer = buffer.slice(cut + 2);
          for (const line of lines) if (line.startsWith(":")) comments.push(line.slice(1).trim());
          const fields = Object.fromEntries(lines.filter((l) => !l.startsWith(":") && l.includes(":")).map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]));
          if (fields.data !== undefined) events.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) });
        }
      }
    } catch {
      // aborted by the test
    } finally {
      ended = true;
    }
  })();
  return {
    response,
    events,
    comments,
    get text() {
      return text;
    },
    get ended() {
      return ended;
    },
    finished,
    async until(predicate, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(events)) {
        if (ended && !predicate(events)) throw new Error(`stream ended: got ${events.map((e) => `${e.event} ${e.data?.path ?? ""}`).join(", ")}`);
        if (Date.now() > deadline) throw new Error(`stream: got ${events.map((e) => `${e.event} ${e.data?.path ?? ""}`).join(", ")}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      return events;
    },
    async close() {
      controller.abort();
      await finished;
    },
  };
}
