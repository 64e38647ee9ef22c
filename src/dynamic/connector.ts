import { VaultError } from "../http/errors.js";
import type { DatabaseConfig } from "./config.js";
import { durationOf } from "./config.js";
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

/** Counts connections per engine so no engine opens more than its max_open_connections at once. */
class Gate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(public limit: number) {}
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await work();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
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
  async with<T>(engine: EngineRow, config: DatabaseConfig, moment: ReadMoment, work: (c: Connection) => Promise<T>): Promise<T> {
    let gate = this.gates.get(engine.id);
    if (!gate) this.gates.set(engine.id, (gate = new Gate(config.max_open_connections)));
    gate.limit = config.max_open_connections;
    const root = await this.deps.roots.read(engine, config, moment);
    const target: Target = {
      url: fillUrl(config.connection_url, root),
      connectTimeoutMs: durationOf("config.connect_timeout", config.connect_timeout) * 1000,
      statementTimeoutMs: durationOf("config.statement_timeout", config.statement_timeout) * 1000,
    };
    try {
      const result = await gate.run(() => work({ target, plugin: this.plugin(config.plugin), root }));
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
