import type { FastifyInstance } from "fastify";
import type { Authenticator } from "../access/authenticator.js";
import type { VaultConfig } from "../config/config.js";
import type { Keyring } from "../crypto/keyring.js";
import type { RequestLimits } from "../http/pipeline.js";
import type { Database } from "../storage/contract.js";
import { registerSessionRoutes } from "./routes.js";
import { SessionStore } from "./session-store.js";
import { ConsoleSessions } from "./sessions.js";
import { DEFAULT_UI_DIR, registerConsoleOff, registerConsoleStatic } from "./static.js";

export interface ConsoleDeps {
  db: Database;
  config: VaultConfig;
  keyring: Keyring;
  authenticator: Authenticator;
  limits?: RequestLimits;
}

export interface ConsoleModule {
  /** Given to the pipeline, which accepts the session cookie in place of a bearer; absent when the console is off. */
  sessions?: ConsoleSessions;
  register(app: FastifyInstance): void;
}

/** The admin console (spec/console.md): its static files at `/ui` and its session endpoints. */
export async function createConsole(deps: ConsoleDeps): Promise<ConsoleModule> {
  const { config } = deps;
  const keys = {
    id: await deps.keyring.systemKey("ui-session-id"),
    csrf: await deps.keyring.systemKey("ui-session-csrf"),
    jwt: await deps.keyring.systemKey("ui-session-jwt"),
  };
  const secure = config.tls !== null || (config.baseUrl?.startsWith("https:") ?? false);
  const sessions = new ConsoleSessions(new SessionStore(deps.db), deps.authenticator, keys, {
    idleMs: config.ui.sessionIdleMs,
    maxMs: config.ui.sessionMaxMs,
    secure,
    baseOrigin: config.baseUrl ? new URL(config.baseUrl).origin : null,
  });
  return {
    sessions: config.ui.enabled ? sessions : undefined,
    register(app) {
      // SCAIVAULT_UI=false turns the console off: /ui and the session endpoints answer 404.
      if (!config.ui.enabled) return registerConsoleOff(app);
      registerSessionRoutes(app, sessions, deps.limits);
      registerConsoleStatic(app, DEFAULT_UI_DIR);
    },
  };
}
