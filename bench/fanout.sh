#!/usr/bin/env bash
# SNS fan-out side by side on this machine: one topic fanning out to 1, 10 and 100 SQS queues,
# lull against moto server, the same client work on both (SNS query Publish, one long-polling
# consumer per queue on SQS JSON, batch receive + batch delete).
#   1. saturated: 8 publishers as fast as answers come back, for BENCH_SECONDS;
#   2. paced: for latency, both targets at the same publish rate per queue count, half of what
#      the slower of the two delivered in step 1 (so neither is measured with a growing backlog).
# Writes bench/results/fanout.{md,jsonl}.
#
#   bench/fanout.sh           # about 4 minutes
#   bench/fanout.sh --quick   # 2 s runs (paced 4 s), 1 and 10 queues
#
# Environment knobs (defaults in brackets):
#   BENCH_SECONDS [5]             seconds of publishing per saturated run (both targets)
#   BENCH_PACED_SECONDS [15]      seconds of publishing per paced run
#   BENCH_QUEUES [1,10,100]
#   BENCH_PUBLISHERS [8]
#   BENCH_BODY_SIZE [256]
#   BENCH_ENVELOPE [0]            1: deliver the SNS JSON envelope instead of raw messages
#   BENCH_TARGETS ["lull moto"]
#   BENCH_NO_BUILD=1              use the binaries already in target/release
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

if [[ "${1:-}" == "--quick" ]]; then
  : "${BENCH_SECONDS:=2}" "${BENCH_PACED_SECONDS:=4}" "${BENCH_QUEUES:=1,10}"
fi
SECS=${BENCH_SECONDS:-5}
PACED_SECS=${BENCH_PACED_SECONDS:-15}
QUEUES=${BENCH_QUEUES:-1,10,100}
PUBLISHERS=${BENCH_PUBLISHERS:-8}
BODY=${BENCH_BODY_SIZE:-256}
TARGETS=${BENCH_TARGETS:-lull moto}
ENVELOPE=()
[[ "${BENCH_ENVELOPE:-0}" == 1 ]] && ENVELOPE=(--envelope)

RESULTS_DIR="$ROOT/bench/results"
JSONL="$RESULTS_DIR/fanout.jsonl"
MD="$RESULTS_DIR/fanout.md"
WORK=$(mktemp -d)
LULL_PID=""
MOTO_PID=""
FAILED=()

cleanup() {
  [[ -n "$LULL_PID" ]] && kill "$LULL_PID" 2>/dev/null || true
  [[ -n "$MOTO_PID" ]] && kill "$MOTO_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "== $*" >&2; }
wants() { [[ " $TARGETS " == *" $1 "* ]]; }
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [[ -z "${BENCH_NO_BUILD:-}" ]]; then
  log "building lull and lull-bench (release)"
  cargo build --release -p lull -p lull-bench >&2
fi
BENCH="$ROOT/target/release/lull-bench"
LULL="$ROOT/target/release/lull"

mkdir -p "$RESULTS_DIR"
: >"$JSONL"

start_lull() {
  "$LULL" serve --listen 127.0.0.1:0 --data "$WORK/lull-data-$1" >"$WORK/lull.out" 2>"$WORK/lull.err" &
  LULL_PID=$!
  URL=""
  for _ in $(seq 1 300); do
    URL=$(sed -n 's/^lull listening on \(http:\/\/[^ ]*\).*/\1/p' "$WORK/lull.out" | head -n1)
    [[ -n "$URL" ]] && break
    kill -0 "$LULL_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z "$URL" ]]; then
    log "lull did not start:"; cat "$WORK/lull.err" >&2; exit 1
  fi
  log "lull at $URL"
}

start_moto() {
  if ! python3 -c 'import moto.server' 2>/dev/null; then
    log "installing moto[server]"
    python3 -m pip install --quiet 'moto[server]' >&2
  fi
  local port
  port=$(free_port)
  python3 -m moto.server -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 100); do port_open "$port" && break; sleep 0.1; done
  URL="http://127.0.0.1:$port"
  log "moto at $URL"
}

stop_all() {
  for pid in $LULL_PID $MOTO_PID; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  LULL_PID=""
  MOTO_PID=""
}

# One phase against every target, each on a fresh server. Extra arguments go to `fanout`.
phase() { # label queues seconds [args...]
  local label=$1 queues=$2 secs=$3 t
  shift 3
  for t in $TARGETS; do
    if [[ $t == lull ]]; then start_lull "$label"; else start_moto; fi
    "$BENCH" fanout --url "$URL" --target "$t" --queues "$queues" --publishers "$PUBLISHERS" \
      --duration "$secs" --body-size "$BODY" "${ENVELOPE[@]}" "$@" \
      --json-out "$JSONL" >/dev/null || FAILED+=("$t $label")
    stop_all
  done
}

for t in $TARGETS; do
  [[ $t == lull || $t == moto ]] || { log "unknown target $t"; exit 1; }
done

phase saturate "$QUEUES" "$SECS"

# Paced: half the slower target's saturated deliveries per queue, per queue count.
for q in ${QUEUES//,/ }; do
  rate=$(python3 - "$JSONL" "$q" <<'EOF'
import json, sys
path, q = sys.argv[1], int(sys.argv[2])
runs = [json.loads(l) for l in open(path) if l.strip()]
rates = [r["delivered_per_s"] / q for r in runs
         if r["mode"] == "saturate" and r["queues"] == q and r["delivered"] > 0]
print(f"{max(1.0, 0.5 * min(rates)):.1f}" if rates else "")
EOF
)
  if [[ -z "$rate" ]]; then
    FAILED+=("paced $q: no saturated run to size it")
    continue
  fi
  log "paced fan-out to $q queue(s) at $rate publishes/s"
  phase "paced-$q" "$q" "$PACED_SECS" --rate "$rate"
done

{
  echo "# lull SNS fan-out benchmark — $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1);" \
    "server and load generator on the same host. Commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
    "$(git diff --quiet 2>/dev/null || echo '(with uncommitted changes)');" \
    "lull built $(date -u -r "$LULL" +%Y-%m-%dT%H:%MZ)."
  echo "One topic, N SQS queues subscribed ($([[ ${#ENVELOPE[@]} -gt 0 ]] && echo 'SNS JSON envelope' || echo 'raw delivery'))," \
    "${PUBLISHERS} publishers for ${SECS}s (paced: ${PACED_SECS}s), ${BODY}-byte messages, one consumer per queue" \
    "(ReceiveMessage of up to 10 with a 1 s long poll, DeleteMessageBatch)."
  echo "moto $(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null || echo '?')." \
    "Latency: from sending Publish to the consumer holding the message. Reproduce: \`bench/fanout.sh\`."
  echo
  "$BENCH" report-fanout "$JSONL"
  if ((${#FAILED[@]})); then
    echo
    echo "Incomplete: ${FAILED[*]}"
  fi
} >"$MD"

cat "$MD"
