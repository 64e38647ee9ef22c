#!/bin/bash
# bench/instructions.sh [health|read|put] [requests] [NAME=value ...]
# Instructions per request, counted by valgrind's callgrind instead of timed: this VM's speed
# swings by ±50 % between minutes, instruction counts do not. Starts the built vault (DIST,
# default dist) under callgrind with its pollers slowed to an hour (their work would count per
# second, not per request), sends WARM requests (default: requests) so the JIT settles, zeroes the
# counters, sends the requests over 8 connections, and prints instructions per request on the main
# thread (the event loop: what a request costs) and in all threads (with V8's compiler and GC
# helpers and the WAL checkpoint worker). Same build, /v1/health: within 0.1 % run to run; the
# audited read varies more (~5 %), because its audit group commits batch by timing.
# Two runs side by side do not disturb each other's counts (PORT tells them apart).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-health}; N=${2:-4000}; shift $(( $# < 2 ? $# : 2 ))
# Under valgrind the event loop runs ~50× slower: the load guard would shed the reads.
export SCAIVAULT_MAX_EVENT_LOOP_DELAY=1h
for poller in EVENTS_POLL_INTERVAL SCHEDULER_POLL SCHEDULER_RECONCILE LEASE_POLL AUDIT_CHECKPOINT_INTERVAL; do export SCAIVAULT_$poller=1h; done
DEFAULT_PORT=9321 source bench/vault-env.sh
DIST_DIR=$(cd "${DIST:-dist}" && pwd)
(cd "$WORK" && exec valgrind --tool=callgrind --smc-check=all-non-file --separate-threads=yes --callgrind-out-file="$WORK/cg.out" \
  node "$DIST_DIR/main.js" > "$WORK/vault.log" 2>&1) & PID=$!
trap 'kill -KILL $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 600); do curl -sf $BASE/v1/health >/dev/null && break; sleep 0.5; done
URL=$BASE/v1/health; AUTH=()
if [ "$MODE" != health ]; then
  AUTH=(-H "authorization=Bearer $(npx tsx bench/prof-seed.ts $BASE "$SCAIVAULT_BOOTSTRAP_TOKEN" "${POLICIES:-10}")")
  URL=$BASE/v1/secrets/bench/secret
fi
# The same new version as bench/profile.sh's put: each PUT also ages one version out.
[ "$MODE" = put ] && URL=$BASE/v1/secrets/bench/written && AUTH+=(-m PUT -H "content-type=application/json" \
  -b '{"data":{"client_id":"x","client_secret":"yyyyyyyyyyyyyyyyyyyyyyyy"},"secret_type":"json","options":{"max_versions":5}}')
load() { npx autocannon -j -c 8 -a "$1" "${AUTH[@]}" "$URL" 2>/dev/null | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>{const r=JSON.parse(s);if(r.non2xx||r.errors){console.error(`non-2xx ${r.non2xx}, errors ${r.errors}`);process.exit(1)}})'; }
load "${WARM:-$N}"
callgrind_control -z $PID >/dev/null 2>&1
load "$N"
callgrind_control -d $PID >/dev/null 2>&1
# One file per thread of the dump; thread 1 is the main thread.
node -e '
const fs = require("fs"), [dir, n] = process.argv.slice(1);
const total = (f) => Number(/^(?:summary|totals): (\d+)/m.exec(fs.readFileSync(f, "utf8"))?.[1] ?? 0);
const files = fs.readdirSync(dir).filter((f) => /^cg\.out\.1-\d+$/.test(f));
const main = files.filter((f) => f.endsWith("-01")).reduce((sum, f) => sum + total(`${dir}/${f}`), 0);
const all = files.reduce((sum, f) => sum + total(`${dir}/${f}`), 0);
console.log(`instructions per request: main thread ${Math.round(main / n)}, all threads ${Math.round(all / n)} (${n} requests)`);
' "$WORK" "$N"
