#!/bin/bash
# bench/profile.sh [read|put|health] [seconds] [NAME=value ...]
# Seeds a vault like the benchmark, restarts it under `node --cpu-prof`, loads it with autocannon
# (CONNS, default 64, connections), prints req/s, latency and the server's CPU time per request, then the hottest
# functions. NOPROF=1: no profiler. DATABASE_URL=postgresql://…: an existing, empty database.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-read}; SECS=${2:-8}; shift $(( $# < 2 ? $# : 2 ))
DEFAULT_PORT=9311 source bench/vault-env.sh
up() { for _ in $(seq 100); do curl -sf $BASE/v1/health >/dev/null && return; sleep 0.1; done; echo "vault did not start" >&2; exit 1; }
(cd "$WORK" && exec node "$OLDPWD/${DIST:-dist}/main.js") & PID=$!; up
TOKEN=$(npx tsx bench/prof-seed.ts $BASE "$SCAIVAULT_BOOTSTRAP_TOKEN" "${POLICIES:-1000}")
kill -TERM $PID; wait $PID || true
if [ -n "${NOPROF:-}" ]; then (cd "$WORK" && exec node "$OLDPWD/${DIST:-dist}/main.js") & PID=$!
else (cd "$WORK" && exec node --cpu-prof ${PROF_INTERVAL:+--cpu-prof-interval $PROF_INTERVAL} --cpu-prof-dir="$WORK/prof" "$OLDPWD/${DIST:-dist}/main.js") & PID=$!; fi
up
cpu() { awk '{print $14+$15}' /proc/$PID/stat; }
# Write syscalls and bytes handed to write() (all threads): counts, not timings, so they compare across runs.
io() { awk '/^(syscw|wchar):/ {printf "%s ", $2}' /proc/$PID/io; }
C0=$(cpu); IO0=$(io)
case $MODE in
  put) npx autocannon -j -c "${CONNS:-64}" -d "$SECS" -m PUT -H "authorization=Bearer $TOKEN" -H "content-type=application/json" \
         -b '{"data":{"client_id":"x","client_secret":"yyyyyyyyyyyyyyyyyyyyyyyy"},"secret_type":"json","options":{"max_versions":5}}' \
         $BASE/v1/secrets/bench/written > "$WORK/load.json" 2>/dev/null ;;
  health) npx autocannon -j -c "${CONNS:-64}" -d "$SECS" $BASE/v1/health > "$WORK/load.json" 2>/dev/null ;;
  *) npx autocannon -j -c "${CONNS:-64}" -d "$SECS" -H "authorization=Bearer $TOKEN" $BASE/v1/secrets/bench/secret > "$WORK/load.json" 2>/dev/null ;;
esac
C1=$(cpu); IO1=$(io)
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const ticks = Number(process.argv[2]), hz = 100;
const n = Math.max(r.requests.total, 1), [w0, s0] = process.argv[3].trim().split(" ").map(Number), [w1, s1] = process.argv[4].trim().split(" ").map(Number);
console.log(`req/s ${Math.round(r.requests.average)}  p50 ${r.latency.p50} ms  p99 ${r.latency.p99} ms  non-2xx ${r.non2xx}  errors ${r.errors}  server CPU ${Math.round((ticks / hz) * 1e6 / n)} µs/request`);
console.log(`write syscalls ${((s1 - s0) / n).toFixed(2)}/request  written ${((w1 - w0) / n / 1024).toFixed(1)} KiB/request`);
' "$WORK/load.json" $((C1 - C0)) "$IO0" "$IO1"
kill -TERM $PID; wait $PID || true
# The largest profile is the main thread's (the WAL checkpoint worker writes one too).
[ -n "${KEEP:-}" ] && cp "$(ls -S "$WORK"/prof/*.cpuprofile | head -1)" "$KEEP"
[ -z "${NOPROF:-}" ] && node bench/cpuprofile-top.mjs "$(ls -S "$WORK"/prof/*.cpuprofile | head -1)" "${TOP:-30}"
rm -rf "$WORK"
