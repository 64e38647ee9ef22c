/**
 * `scaivault run [--path P]… [--prefix P] [--prefix-names] [--watch [--signal SIG]] -- cmd args`:
 * the child gets the secrets as environment variables; its exit code (or the signal that ended
 * it) is ours. With --watch, a change to a used secret (seen on the event stream) restarts the
 * child with fresh values, or sends it --signal instead.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { constants } from "node:os";
import { UsageError } from "../args.js";
import type { Ctx } from "../commands/context.js";
import type { CommandSpec } from "../registry.js";
import { collect, normalizePrefix, toEnv } from "./secrets-set.js";

export const RUN_SPEC: CommandSpec = {
  usage: "[--path P]... [--prefix P] [--prefix-names] [--watch [--signal SIG]] -- <command> [args...]",
  summary: "Run a command with secrets as environment variables (field F of …/S is S_F; a lone field value is S).",
  examples: [
    "scaivault run --path app/db -- psql",
    "scaivault run --prefix app/ --prefix-names -- node server.js",
    "scaivault run --prefix app/ --watch -- node server.js",
    "scaivault run --path app/tls --watch --signal SIGHUP -- nginx -g 'daemon off;'",
  ],
};

const FORWARDED: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];
const SECRET_CHANGES = ["secret.created", "secret.updated", "secret.deleted", "secret.rotated", "secret.expired"];

function signalName(value: string): NodeJS.Signals {
  const name = (value.startsWith("SIG") ? value : `SIG${value}`).toUpperCase() as NodeJS.Signals;
  if (!(name in constants.signals)) throw new UsageError(`--signal ${value} is not a signal name`);
  return name;
}

export async function runCommand(ctx: Ctx): Promise<void> {
  const { args } = ctx;
  const [command, ...commandArgs] = args.rest;
  if (!command) throw new UsageError("nothing to run: give the command after --, e.g. scaivault run --prefix app/ -- node server.js");
  if (args.positionals.length > 1) throw new UsageError(`unexpected "${args.positionals[1]}": put the command after --`);
  const paths = args.all("path");
  const prefix = args.flag("prefix");
  if (!paths.length && prefix === undefined) throw new UsageError("give --path P (repeatable) and/or --prefix P");
  const watch = args.bool("watch");
  const signal = args.flag("signal") !== undefined ? signalName(args.flag("signal")!) : null;
  if (signal && !watch) throw new UsageError("--signal only applies with --watch");
  const client = ctx.client();
  const load = async () => toEnv(await collect(client, paths, prefix), { prefix, prefixNames: args.bool("prefix-names") });

  let stopWatching: (() => void) | null = null;
  let changed: () => void = () => {};
  if (watch) {
    // The stream is open before the first read, so no change between the two is missed.
    const globs = [...paths, ...(prefix !== undefined ? [`${normalizePrefix(prefix)}/**`] : [])];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the event stream did not open within 30s")), 30_000);
      stopWatching = client.streamEvents(
        {
          onOpen: () => {
            clearTimeout(timer);
            resolve();
          },
          onEvent: (event) => {
            if (SECRET_CHANGES.includes(event.event_type)) changed();
          },
        },
        { paths: globs, events: SECRET_CHANGES },
      );
    });
  }

  let env = await load();
  let child: ChildProcess;
  let restarting = false;
  let pending = false;
  const start = () => {
    child = spawn(command, commandArgs, { stdio: "inherit", env: { ...process.env, ...Object.fromEntries(env) } });
    return new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once("error", (error) => reject(new UsageError(`cannot run ${command}: ${(error as NodeJS.ErrnoException).code ?? error.message}`)));
      child.once("exit", (code, sig) => resolve({ code, signal: sig }));
    });
  };
  const forward = (sig: NodeJS.Signals) => child?.kill(sig);
  for (const sig of FORWARDED) process.on(sig, forward);

  let exited = start();
  changed = () => {
    if (restarting) {
      pending = true;
      return;
    }
    restarting = true;
    void (async () => {
      do {
        pending = false;
        try {
          env = await load();
        } catch (error) {
          process.stderr.write(`scaivault run: keeping the old values: ${(error as Error).message}\n`);
          continue;
        }
        if (signal) child.kill(signal);
        else {
          process.stderr.write("scaivault run: a secret changed; restarting the command\n");
          const old = exited;
          const replaced = new Promise<void>((resolve) => void old.then(() => resolve()));
          child.kill("SIGTERM");
          await replaced;
          exited = start();
          settle();
        }
      } while (pending);
      restarting = false;
    })();
  };

  // Waits for the current child; a restart swaps `exited`, so a child we stopped is not our result.
  let finish!: (result: { code: number | null; signal: NodeJS.Signals | null }) => void;
  let fail!: (error: unknown) => void;
  const final = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => ([finish, fail] = [resolve, reject]));
  const settle = () => {
    const mine = exited;
    mine.then((result) => {
      if (mine === exited && !(restarting && !signal)) finish(result);
    }, fail);
  };
  settle();
  let result: { code: number | null; signal: NodeJS.Signals | null };
  try {
    result = await final;
  } finally {
    (stopWatching as (() => void) | null)?.();
    for (const sig of FORWARDED) process.off(sig, forward);
  }
  if (result.signal) {
    // Die the same way, so our parent sees the signal; 128+n if the signal does not end us.
    ctx.client().close();
    process.kill(process.pid, result.signal);
    process.exitCode = 128 + (constants.signals[result.signal] ?? 0);
    return;
  }
  process.exitCode = result.code ?? 1;
}
