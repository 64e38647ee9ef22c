import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
  event: any;
  path: string;
}

/** null leaves the request hanging (a receiver that never answers). */
export type Responder = (request: Received, index: number) => { status: number; headers?: Record<string, string> } | null;

/** A real local HTTP receiver for webhook tests: records every POST and answers as told. */
export class TestReceiver {
  readonly received: Received[] = [];
  /** The requests answered (with any status). */
  readonly answered: Received[] = [];
  private server: Server | null = null;
  port = 0;

  constructor(public respond: Responder = () => ({ status: 200 })) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        let event: unknown = null;
        try {
          event = JSON.parse(raw);
        } catch {
          event = null;
        }
        const entry = { headers: req.headers, raw, event, path: req.url ?? "/" };
        this.received.push(entry);
        const answer = this.respond(entry, this.received.length - 1);
        if (!answer) return;
        this.answered.push(entry);
        res.writeHead(answer.status, answer.headers ?? {});
        res.end("{}");
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Waits until `predicate` holds over what was received (fails after `timeoutMs`). */
  async waitFor(predicate: (received: Received[]) => boolean, timeoutMs = 15_000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.received)) {
      if (Date.now() > deadline) throw new Error(`receiver: condition not met; got ${this.received.length} requests: ${this.received.map((r) => r.event?.event_type).join(", ")}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    return this.received;
  }

  ofType(type: string): Received[] {
    return this.received.filter((r) => r.event?.event_type === type);
  }
}

export async function eventually<T>(probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met in time; last value: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
