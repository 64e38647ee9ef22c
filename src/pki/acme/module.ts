import { createServer, type Server } from "node:http";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { Counter, type Registry } from "prom-client";
import type { PkiDeps } from "../common.js";
import { AcmeAccounts } from "./accounts.js";
import { configureAcmeHttp } from "./client.js";
import type { DnsChallengeSolver } from "./dns-solver.js";
import { AcmeOrders, type AcmeMetrics } from "./orders.js";
import { CHALLENGE_PATH, registerAcmeRoutes } from "./routes.js";
import { OrderSlots } from "./worker.js";

export interface AcmeOptions {
  deps: PkiDeps;
  dnsSolver?: DnsChallengeSolver;
  registry?: Registry;
  caFile: string | null;
  httpAddress: { host: string; port: number } | null;
  pollMs: number;
}

/** ACME accounts and orders (contract P7, P8): routes, the order worker, the optional http-01 listener. */
export function createAcme(options: AcmeOptions) {
  configureAcmeHttp(options.caFile);
  const metrics: AcmeMetrics | null = options.registry
    ? { orders: new Counter({ name: "scaivault_acme_orders_total", help: "ACME orders and renewals completed, by result", labelNames: ["result", "kind"], registers: [options.registry] }) }
    : null;
  const accounts = new AcmeAccounts(options.deps);
  const orders = new AcmeOrders(options.deps, accounts, options.dnsSolver, metrics);
  let app: FastifyInstance | null = null;
  let server: Server | null = null;
  let running = false;
  let loop: Promise<void> | null = null;
  let wake: (() => void) | null = null;
  let kicked = false;
  const kick = () => {
    kicked = true;
    wake?.();
  };
  const slots = new OrderSlots(orders, options.deps.config.acmeConcurrency, kick);

  async function run(log: FastifyBaseLogger): Promise<void> {
    while (running) {
      kicked = false;
      try {
        await slots.fill(Date.now(), log, () => running);
      } catch (error) {
        log.warn({ err: { name: (error as Error).name } }, "acme order worker pass failed");
      }
      if (!running) break;
      if (kicked) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.pollMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
    }
  }

  return {
    accounts,
    orders,
    register(instance: FastifyInstance): void {
      app = instance;
      registerAcmeRoutes(instance, { accounts, orders, db: options.deps.db });
    },
    /**
     * The worker runs wherever the scheduler runs; the http-01 listener (SCAIVAULT_ACME_HTTP_ADDRESS)
     * on every node: it answers challenges by handing the request to the main app, pipeline and all.
     */
    start(log: FastifyBaseLogger, workerEnabled: boolean): void {
      if (workerEnabled && !running) {
        running = true;
        orders.wake = kick;
        loop = run(log);
      }
      if (options.httpAddress && !server && app) {
        const target = app;
        server = createServer((req, res) => {
          const url = req.url ?? "/";
          if (req.method !== "GET" || !url.startsWith(CHALLENGE_PATH)) {
            res.writeHead(404, { "content-type": "text/plain" }).end("not found");
            return;
          }
          target.inject({ method: "GET", url, headers: { host: req.headers.host ?? "localhost", "user-agent": req.headers["user-agent"] ?? "" }, remoteAddress: req.socket.remoteAddress })
            .then((answer) => {
              res.writeHead(answer.statusCode, { "content-type": String(answer.headers["content-type"] ?? "text/plain") }).end(answer.rawPayload);
            })
            .catch(() => res.writeHead(503).end());
        });
        server.requestTimeout = 10_000;
        server.on("error", (error) => log.error({ err: { name: error.name, message: error.message } }, "acme http-01 listener failed"));
        server.listen(options.httpAddress.port, options.httpAddress.host);
      }
    },
    async stop(): Promise<void> {
      running = false;
      wake?.();
      await loop;
      loop = null;
      await slots.settled();
      const s = server;
      server = null;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}
