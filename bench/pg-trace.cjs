// Preloaded into a vault process (`node --require bench/pg-trace.cjs dist/main.js`) by
// bench/pg-writes.ts: records every statement node-postgres sends, grouped by transaction
// (BEGIN … COMMIT on one client), and for each transaction how many round trips it held a lock on
// the per-tenant hot rows (the audit chain head, the secret cache epoch) before its COMMIT
// answered. SIGUSR2 writes the summary to PG_TRACE_FILE and starts a new one. Measurement only.
"use strict";
const { mkdirSync, writeFileSync } = require("node:fs");
const { dirname } = require("node:path");
const pg = require("pg");

// "%p" in the name stands for the process id (runners that inherit the environment trace too).
const file = process.env.PG_TRACE_FILE && process.env.PG_TRACE_FILE.replace("%p", String(process.pid));
let shapes = new Map();
let outside = 0;
/** Statements sent outside any transaction, by shape. */
let outsideShapes = new Map();
const original = pg.Client.prototype.query;

/** Statement text with literals and parameter numbers blanked, short enough to group by. */
function shape(text) {
  return text.replace(/\$\d+/g, "$").replace(/'[^']*'/g, "'…'").replace(/\(\$(, \$)+\)(, \(\$(, \$)+\))*/g, "(…)").replace(/\s+/g, " ").slice(0, 150);
}
/** PREPAREd statements by name: a message that EXECUTEs one is checked against the statement's text. */
const preparedText = new Map();
/** `text` with every `EXECUTE name(` replaced by the statement it runs, for the lock checks below. */
function expanded(text) {
  return text.replace(/EXECUTE (\w+)/g, (whole, name) => preparedText.get(name) ?? whole);
}
const CHAIN = /audit_chain_heads[^;]*FOR UPDATE/i;
// The epoch triggers fire on these (migration 0011): the epoch row is locked from here to COMMIT.
const EPOCH = /(INSERT INTO|UPDATE|DELETE FROM) (secrets|secret_versions)\b/i;

pg.Client.prototype.query = function (config, values, callback) {
  const sent = typeof config === "string" ? config : config && config.text;
  const prepare = typeof sent === "string" && /^PREPARE (\w+) AS ([\s\S]*)$/.exec(sent);
  if (prepare) preparedText.set(prepare[1], prepare[2]);
  const text = typeof sent === "string" && !prepare ? expanded(sent) : null;
  if (typeof text === "string") {
    // The adapter sends BEGIN with the transaction's first statement ("BEGIN;\n<statement>") when
    // it can: then BEGIN costs no round trip of its own.
    const folded = /^BEGIN;\s*/i.exec(text);
    if (folded) {
      this.__trace = { statements: [], chainAt: -1, epochAt: -1, beginTrips: 0 };
      const rest = text.slice(folded[0].length);
      if (CHAIN.test(rest)) this.__trace.chainAt = 0;
      if (EPOCH.test(rest)) this.__trace.epochAt = 0;
      this.__trace.statements.push("BEGIN+ " + shape(rest));
    } else if (/^BEGIN/i.test(text)) this.__trace = { statements: [], chainAt: -1, epochAt: -1, beginTrips: 1 };
    else if (this.__trace) {
      const t = this.__trace;
      if (/^(COMMIT|ROLLBACK)/i.test(text) || /;\s*COMMIT\s*$/i.test(text)) {
        if (/;\s*COMMIT\s*$/i.test(text)) t.statements.push(shape(text.replace(/;\s*COMMIT\s*$/i, "")) + " +COMMIT");
        const n = t.statements.length + (/^(COMMIT|ROLLBACK)/i.test(text) ? 1 : 0);
        const key = t.statements.join("\n");
        const entry = shapes.get(key) ?? { count: 0, roundTrips: n + t.beginTrips, chainHeld: t.chainAt < 0 ? 0 : n - t.chainAt, epochHeld: t.epochAt < 0 ? 0 : n - t.epochAt, ended: text.slice(0, 8) };
        entry.count += 1;
        shapes.set(key, entry);
        this.__trace = null;
      } else {
        if (t.chainAt < 0 && CHAIN.test(text)) t.chainAt = t.statements.length;
        if (t.epochAt < 0 && EPOCH.test(text)) t.epochAt = t.statements.length;
        t.statements.push(shape(text));
      }
    } else {
      outside += 1;
      const key = shape(text);
      outsideShapes.set(key, (outsideShapes.get(key) ?? 0) + 1);
    }
  }
  return original.apply(this, arguments);
};

function dump() {
  if (!file) return;
  const transactions = [...shapes.entries()].map(([statements, e]) => ({ ...e, statements: statements.split("\n") })).sort((a, b) => b.count - a.count);
  // A fresh clone has no data/ directory yet.
  mkdirSync(dirname(file), { recursive: true });
  const outsideByShape = Object.fromEntries([...outsideShapes.entries()].sort((a, b) => b[1] - a[1]));
  writeFileSync(file, JSON.stringify({ outside, outsideByShape, transactions }));
  shapes = new Map();
  outside = 0;
  outsideShapes = new Map();
}
process.on("SIGUSR2", dump);
// A vault stopped by its runner (bench/pg-put-cost.ts) leaves what it traced since the last dump.
process.on("exit", dump);
