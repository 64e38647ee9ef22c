import { VaultError } from "../http/errors.js";
import type { DatabaseConfig } from "./config.js";
import { durationOf, MAX_CONNECT_TIMEOUT_S, MAX_STATEMENT_TIMEOUT_S } from "./config.js";
import type { DynamicMetrics } from "./metrics.js";
import { mysqlPlugin } from "./plugins/mysql.js";
import { postgresqlPlugin } from "./plugins/postgresql.js";
import { redisPlugin } from "./plugins/redis.js";
import { BackendFailure, type DatabasePlugin, type Target } from "./plugins/types.js";
import { fillUrl, type ReadMoment, type RootCredentialReader, type RootCredentials } from "./root-credentials.js";
import type { DynamicStore, EngineRow } from "./store.js";

const PLUGINS: Record<string, DatabasePlugin> = { postgresql: postgresqlPlugin, mysql: mysqlPlugin, redis: redisPlugin };

/** A failure at the target as the API answers it: 502 with the reason and statement number, never a password. */
export function backendError(failure: BackendFailure): VaultError {
  return new VaultError("backend_error", `The target system failed: ${failure.message}`, {
    details: { reason: failure.reason, statement: failure.statement, backend_code: failure.backendCode },
  });
}

/**
 * Counts connections per engine so no engine opens more than its max_open_connections at once. A
 * request waits for a place at most the engine's connect timeout, and leaves the queue when its
 * client goes: against a target that hangs, a review's queue grew without bound (1,000 waiting
 * requests whose clients had gone, 17 MB kept) and a request sent later waited 104 s.
 */
class Gate {
  private active = 0;
  private readonly waiting = new Set<() => void>();
  constructor(public limit: number) {}

  async run<T>(work: () => Promise<T>, waitMs: number, signal?: AbortSignal): Promise<T> {
    if (this.active >= this.limit) await this.place(waitMs, signal);
    this.active++;
    try {
      return await work();
    } finally {
      this.active--;
      const next = this.waiting.values().next();
      if (!next.done) next.value();
    }
  }

  private place(waitMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const leave = (error: VaultError | null) => {
        this.waiting.delete(granted);
        clearTimeout(timer);
        signal?.removeEventListener("abort", abandoned);
        if (error) reject(error);
        else resolve();
      };
      const granted = () => leave(null);
      const abandoned = () => leave(new VaultError("backend_error", "The request ended before a connection to the target was free", { details: { reason: "abandoned", statement: null, backend_code: null } }));
      const timer = setTimeout(() => leave(new VaultError("backend_error", `All ${this.limit} connections to the engine's target stayed in use for ${waitMs} ms`, { details: { reason: "busy", statement: null, backend_code: null } })), waitMs);
      this.waiting.add(granted);
      if (signal?.aborted) abandoned();
      else signal?.addEventListener("abort", abandoned, { once: true });
    });
  }
}

export interface Connection {
  target: Target;
  plugin: DatabasePlugin;
  root: RootCredentials;
}

/**
 * Opens what an engine needs to reach its target: the root credentials (read as the engine's own
 * identity each time a connection is opened, so a new version is used at once), the filled URL,
 * the plugin and the timeouts. Connections are opened per operation and closed after it.
 */
export class Connector {
  private readonly gates = new Map<string, Gate>();

  constructor(private readonly deps: { roots: RootCredentialReader; store: DynamicStore; metrics: DynamicMetrics }) {}

  plugin(name: string): DatabasePlugin {
    const plugin = PLUGINS[name];
    if (!plugin) throw new VaultError("internal_error", "unknown plugin");
    return plugin;
  }

  /** Runs `work` against the engine's target; a target failure becomes 502 and marks the engine unhealthy. */
  async with<T>(engine: EngineRow, config: DatabaseConfig, moment: ReadMoment, work: (c: Connection) => Promise<T>, signal?: AbortSignal): Promise<T> {
    let gate = this.gates.get(engine.id);
    if (!gate) this.gates.set(engine.id, (gate = new Gate(config.max_open_connections)));
    gate.limit = config.max_open_connections;
    const root = await this.deps.roots.read(engine, config, moment);
    const target: Target = {
      url: fillUrl(config.connection_url, root),
      // Engines stored before the maximums were checked are held to them here.
      connectTimeoutMs: Math.min(durationOf("config.connect_timeout", config.connect_timeout), MAX_CONNECT_TIMEOUT_S) * 1000,
      statementTimeoutMs: Math.min(durationOf("config.statement_timeout", config.statement_timeout), MAX_STATEMENT_TIMEOUT_S) * 1000,
    };
    try {
      const result = await gate.run(() => work({ target, plugin: this.plugin(config.plugin), root }), target.connectTimeoutMs, signal);
      await this.health(engine, true);
      return result;
    } catch (error) {
      if (!(error instanceof BackendFailure)) throw error;
      // Only reaching the target tells about its health; a failed statement is the role's problem.
      if (error.statement === null || error.reason === "timeout") await this.health(engine, false);
      throw backendError(error);
    }
  }

  private async health(engine: EngineRow, ok: boolean): Promise<void> {
    const status = ok ? "healthy" : "unhealthy";
    this.deps.metrics.health(engine.name, ok);
    if (engine.status !== status) {
      engine.status = status;
      await this.deps.store.setEngineStatus(engine.id, status);
    }
  }
}
