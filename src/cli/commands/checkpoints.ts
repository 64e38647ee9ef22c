/** `scaivault audit checkpoints [--follow]`: the signed audit checkpoints (SPEC §5), optionally as they are made. */
import { printTable, show } from "../output.js";
import type { Ctx } from "./context.js";

type Checkpoint = Record<string, unknown>;

/** The list in either of the shapes a list endpoint uses (`checkpoints` or `data`). */
function listOf(answer: Record<string, unknown>): Checkpoint[] {
  const list = answer.checkpoints ?? answer.data;
  return Array.isArray(list) ? (list as Checkpoint[]) : [];
}

const keyOf = (c: Checkpoint) => String(c.id ?? `${String(c.chain)}:${String(c.entries)}:${String(c.head_hash)}`);
const COLUMNS = ["chain", "entries", "head_hash", "timestamp"];

export async function checkpointsCommand(ctx: Ctx): Promise<void> {
  const { args, out } = ctx;
  const query = { chain: args.flag("chain"), from: args.flag("from"), to: args.flag("to") };
  const fetchPage = (from?: string) => ctx.client().request<Record<string, unknown>>({ method: "GET", path: "/v1/audit/checkpoints", query: { ...query, ...(from ? { from } : {}) } });
  const first = await fetchPage();
  if (!args.bool("follow")) return show(out, first, () => printTable(listOf(first), COLUMNS));
  // Following: one line (or row) per checkpoint, each printed once, as new ones appear.
  const seen = new Set<string>();
  let since: string | undefined;
  const emit = (list: Checkpoint[]) => {
    for (const c of list) {
      const key = keyOf(c);
      if (seen.has(key)) continue;
      seen.add(key);
      if (typeof c.timestamp === "string" && (!since || c.timestamp > since)) since = c.timestamp;
      if (out.format === "table") printTable([c], COLUMNS);
      else process.stdout.write(JSON.stringify(c) + "\n");
    }
  };
  emit(listOf(first));
  const intervalMs = Math.max(1, Number(process.env.SCAIVAULT_FOLLOW_INTERVAL ?? 5)) * 1000;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    emit(listOf(await fetchPage(since)));
  }
}
