#!/usr/bin/env bash
# The chat gateway's benchmark on this machine, in one run:
#   1. webhook ingest (POST /webhooks/{app}, Z-API and generic payloads, unique message ids,
#      100,000 conversations) against lull's own GET /healthz at the same connection counts,
#      with a 1 h debounce window so nothing flushes; then the same ingest into an app with a
#      200 ms window, flushing all the while;
#   2. debounce timer lateness: 10,000 fragments/s (then 3,000 and 1,000), 3 fragments per
#      conversation 50 ms apart, 200 ms window, batches read from the inbox (fresh server each);
#   3. resident memory and reopen time with 1,000,000 pending conversations
#      (examples/conversations_1m.rs).
# Writes bench/results/gateway.{md,jsonl}, gateway-lateness.jsonl, gateway-memory.jsonl.
#
#   bench/gateway.sh           # about 10 minutes
#   bench/gateway.sh --quick   # 3 s runs, 10 s lateness, 100,000 conversations in memory
#
# Environment knobs (defaults in brackets):
#   BENCH_SECONDS [10]                 seconds per ingest / healthz run
#   BENCH_CONNECTIONS [1,8,32,64]
#   BENCH_PLATFORMS ["zapi generic"]   payload shapes for the ingest runs
#   BENCH_CONVERSATIONS [100000]       conversations the ingest fragments are spread over
#   BENCH_FLUSHING [1]                 also ingest into the 200 ms app (0 to skip)
#   BENCH_RATES ["10000 3000 1000"]   fragments/s, one lateness run each
#   BENCH_LATENESS_SECONDS [30]
#   BENCH_WINDOW_MS [200]              the lateness app's window
#   BENCH_MEMORY_CONVERSATIONS [1000000]  0 skips the memory run
#   BENCH_NO_BUILD=1                   use the binaries already in target/release
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

if [[ "${1:-}" == "--quick" ]]; then
  : "${BENCH_SECONDS:=3}" "${BENCH_LATENESS_SECONDS:=10}" "${BENCH_MEMORY_CONVERSATIONS:=100000}"
fi
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-1,8,32,64}
PLATFORMS=${BENCH_PLATFORMS:-zapi generic}
CONVERSATIONS=${BENCH_CONVERSATIONS:-100000}
FLUSHING=${BENCH_FLUSHING:-1}
RATES=${BENCH_RATES:-10000 3000 1000}
LATE_SECS=${BENCH_LATENESS_SECONDS:-30}
WINDOW_MS=${BENCH_WINDOW_MS:-200}
MEMORY_N=${BENCH_MEMORY_CONVERSATIONS:-1000000}

RESULTS_DIR="$ROOT/bench/results"
RUNS="$RESULTS_DIR/gateway.jsonl"
LATE="$RESULTS_DIR/gateway-lateness.jsonl"
MEM="$RESULTS_DIR/gateway-memory.jsonl"
MD="$RESULTS_DIR/gateway.md"
WORK=$(mktemp -d)
LULL_PID=""
LULL_URL=""
FAILED=()

cleanup() {
  [[ -n "$LULL_PID" ]] && kill "$LULL_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "== $*" >&2; }

if [[ -z "${BENCH_NO_BUILD:-}" ]]; then
  log "building lull, lull-bench and examples/conversations_1m (release)"
  cargo build --release -p lull -p lull-bench --bins --example conversations_1m >&2
fi
BENCH="$ROOT/target/release/lull-bench"
LULL="$ROOT/target/release/lull"
MEMORY_EXAMPLE="$ROOT/target/release/examples/conversations_1m"

# Three apps: two that never flush during the run (window 1 h), one that flushes after 200 ms.
cat >"$WORK/lull.toml" <<EOF
[apps.ingest_zapi]
platform = "zapi"
instance_id = "3C91F0A7B2D84E6C9A15E0D2B7F4A831"
token = "F00DBABE"
[apps.ingest_zapi.debounce]
window = "1h"
max_wait = "1h"
max_fragments = 1000

[apps.ingest_generic]
platform = "generic"
fields = { conversation = "/data/from/id", message_id = "/data/id", text = "/data/body", timestamp = "/data/sent_at", sender_name = "/data/from/name" }
[apps.ingest_generic.debounce]
window = "1h"
max_wait = "1h"
max_fragments = 1000

[apps.flush_zapi]
platform = "zapi"
instance_id = "3C91F0A7B2D84E6C9A15E0D2B7F4A831"
token = "F00DBABE"
[apps.flush_zapi.debounce]
window = "200ms"
max_wait = "10s"

[apps.timer]
platform = "zapi"
instance_id = "3C91F0A7B2D84E6C9A15E0D2B7F4A831"
token = "F00DBABE"
[apps.timer.debounce]
window = "${WINDOW_MS}ms"
max_wait = "60s"
EOF

start_lull() { # data-dir
  "$LULL" serve --listen 127.0.0.1:0 --config "$WORK/lull.toml" --data "$1" \
    >"$WORK/lull.out" 2>"$WORK/lull.err" &
  LULL_PID=$!
  LULL_URL=""
  for _ in $(seq 1 300); do
    LULL_URL=$(sed -n 's/^lull listening on \(http:\/\/[^ ]*\).*/\1/p' "$WORK/lull.out" | head -n1)
    [[ -n "$LULL_URL" ]] && break
    kill -0 "$LULL_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z "$LULL_URL" ]]; then
    log "lull did not start:"; cat "$WORK/lull.err" >&2; exit 1
  fi
  log "lull at $LULL_URL"
}

stop_lull() {
  kill "$LULL_PID" 2>/dev/null || true
  wait "$LULL_PID" 2>/dev/null || true
  LULL_PID=""
}

mkdir -p "$RESULTS_DIR"
: >"$RUNS"
: >"$LATE"
: >"$MEM"

# 1. Ingest against /healthz, side by side at each connection count.
start_lull "$WORK/data-ingest"
for c in ${CONNS//,/ }; do
  "$BENCH" run --healthz "$LULL_URL" --target lull --connections "$c" --duration "$SECS" \
    --json-out "$RUNS" >/dev/null || FAILED+=("healthz/$c")
  for p in $PLATFORMS; do
    "$BENCH" run --webhook "$LULL_URL/webhooks/ingest_$p" --platform "$p" --target "$p" \
      --conversations "$CONVERSATIONS" --connections "$c" --duration "$SECS" \
      --json-out "$RUNS" >/dev/null || FAILED+=("webhook $p/$c")
  done
done
if [[ "$FLUSHING" == 1 ]]; then
  for c in ${CONNS//,/ }; do
    "$BENCH" run --webhook "$LULL_URL/webhooks/flush_zapi" --platform zapi \
      --target "zapi, flushing" --conversations "$CONVERSATIONS" --connections "$c" \
      --duration "$SECS" --json-out "$RUNS" >/dev/null || FAILED+=("webhook flushing/$c")
  done
fi
stop_lull

# 2. Timer lateness, each rate on a fresh server.
for rate in $RATES; do
  start_lull "$WORK/data-timer-$rate"
  "$BENCH" lateness --url "$LULL_URL" --app timer --platform zapi --window-ms "$WINDOW_MS" \
    --rate "$rate" --duration "$LATE_SECS" --json-out "$LATE" >/dev/null || FAILED+=("lateness/$rate")
  stop_lull
done

# 3. A million pending conversations.
if [[ "$MEMORY_N" != 0 ]]; then
  log "buffering $MEMORY_N conversations (examples/conversations_1m)"
  "$MEMORY_EXAMPLE" "$MEMORY_N" 1 "$WORK/data-memory" >>"$MEM" || FAILED+=("memory")
fi

{
  echo "# lull chat gateway benchmark — $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1);" \
    "lull and the load generator on the same host. Commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
    "$(git diff --quiet 2>/dev/null || echo '(with uncommitted changes)');" \
    "lull built $(date -u -r "$LULL" +%Y-%m-%dT%H:%MZ)."
  echo "Ingest: ${SECS}s per run, ${CONVERSATIONS} conversations, unique message ids; healthz and ingest" \
    "alternate at each connection count. Lateness: ${RATES// /, } fragments/s for ${LATE_SECS}s each," \
    "3 fragments per conversation 50 ms apart, window ${WINDOW_MS} ms."
  echo "Reproduce: \`bench/gateway.sh\`."
  echo
  "$BENCH" report-gateway --runs "$RUNS" --lateness "$LATE" --memory "$MEM"
  if ((${#FAILED[@]})); then
    echo
    echo "Incomplete: ${FAILED[*]}"
  fi
} >"$MD"

cat "$MD"
