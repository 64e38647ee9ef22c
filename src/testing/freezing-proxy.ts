import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";

/**
 * A TCP proxy in front of a server that a test can freeze: while frozen no byte moves either way
 * and new connections are accepted but left hanging — a peer that stopped (SIGSTOP) without
 * closing anything, which is what a hung database looks like from the vault.
 */
export class FreezingProxy {
  private server: Server | null = null;
  private readonly pairs = new Set<[Socket, Socket | null]>();
  private frozen = false;
  private readonly waiting: (() => void)[] = [];
  port = 0;

  constructor(private readonly targetHost: string, private readonly targetPort: number) {}

  async start(): Promise<this> {
    this.server = createServer((client) => {
      const pair: [Socket, Socket | null] = [client, null];
      this.pairs.add(pair);
      client.on("error", () => {});
      client.on("close", () => {
        pair[1]?.destroy();
        this.pairs.delete(pair);
      });
      const open = () => {
        if (client.destroyed) return;
        const upstream = connect(this.targetPort, this.targetHost);
        pair[1] = upstream;
        upstream.on("error", () => client.destroy());
        upstream.on("close", () => client.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        if (this.frozen) this.pause(pair);
      };
      if (this.frozen) this.waiting.push(open);
      else open();
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  private pause([client, upstream]: [Socket, Socket | null]): void {
    client.pause();
    upstream?.pause();
  }

  freeze(): void {
    this.frozen = true;
    for (const pair of this.pairs) this.pause(pair);
  }

  thaw(): void {
    this.frozen = false;
    for (const [client, upstream] of this.pairs) {
      client.resume();
      upstream?.resume();
    }
    for (const open of this.waiting.splice(0)) open();
  }

  async stop(): Promise<void> {
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream?.destroy();
    }
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
