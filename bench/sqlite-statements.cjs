// Preloaded with --require: times every better-sqlite3 statement the process runs, by its SQL
// text, and writes a table (total ms, calls, µs per call, the statement's first 110 characters)
// to SQLITE_STATEMENTS_OUT when it exits. Which statements a request's time goes to, without
// touching the build: e.g. NODE_OPTIONS="--require $PWD/bench/sqlite-statements.cjs"
// SQLITE_STATEMENTS_OUT=/tmp/s.txt NOPROF=1 bash bench/profile.sh put 10. Processes that ran no
// statement (the load generator, the seeding script) write nothing, so the vault's table stays.
const Database = require("better-sqlite3");
const { writeFileSync } = require("node:fs");

const probe = new Database(":memory:");
const Statement = Object.getPrototypeOf(probe.prepare("SELECT 1"));
probe.close();

const spent = new Map();
for (const method of ["run", "get", "all", "iterate"]) {
  const original = Statement[method];
  Statement[method] = function timed(...args) {
    const start = process.hrtime.bigint();
    try {
      return original.apply(this, args);
    } finally {
      const key = this.source.replace(/\s+/g, " ").slice(0, 110);
      const entry = spent.get(key) ?? { ns: 0n, calls: 0 };
      entry.ns += process.hrtime.bigint() - start;
      entry.calls += 1;
      spent.set(key, entry);
    }
  };
}

process.on("exit", () => {
  if (spent.size === 0) return;
  const rows = [...spent].sort((a, b) => Number(b[1].ns - a[1].ns));
  const totalMs = rows.reduce((sum, [, e]) => sum + Number(e.ns) / 1e6, 0);
  const lines = rows.slice(0, Number(process.env.SQLITE_STATEMENTS_TOP ?? 40)).map(([sql, e]) => {
    const ms = Number(e.ns) / 1e6;
    return `${ms.toFixed(1).padStart(9)} ms ${String(e.calls).padStart(8)} ${((ms * 1000) / e.calls).toFixed(1).padStart(8)} µs  ${sql}`;
  });
  writeFileSync(process.env.SQLITE_STATEMENTS_OUT ?? `sqlite-statements-${process.pid}.txt`, `${totalMs.toFixed(1)} ms in all statements\n${lines.join("\n")}\n`);
});
