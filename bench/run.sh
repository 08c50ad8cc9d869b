#!/usr/bin/env bash
# Side-by-side benchmark on this machine: lull (SQS JSON 1.0) against RabbitMQ
# (AMQP 0-9-1, same durable work) and moto (SQS JSON 1.0), plus lull's /healthz
# as the no-op limit. Writes bench/results/latest.{jsonl,md} and prints the table.
#
#   bench/run.sh            # full matrix, about 6-8 minutes
#   bench/run.sh --quick    # 2 s runs, fewer connection counts
#
# Environment knobs (defaults in brackets):
#   BENCH_SECONDS [5]            seconds per measured run (lull, RabbitMQ)
#   BENCH_MOTO_SECONDS [2]       seconds per measured run against moto
#   BENCH_CONNECTIONS [1,8,32,64]
#   BENCH_MOTO_CONNECTIONS [1,8]
#   BENCH_BATCH [10]             batch for send-batch and recv
#   BENCH_CYCLE_BATCHES ["1 10"] batches for the full cycle
#   BENCH_BODY_SIZE [256]
#   BENCH_TARGETS ["lull rabbitmq moto"]
#   BENCH_AMQP_URL [amqp://guest:guest@127.0.0.1:5672/%2f]
#   BENCH_NO_BUILD=1             use the binaries already in target/release
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

if [[ "${1:-}" == "--quick" ]]; then
  : "${BENCH_SECONDS:=2}" "${BENCH_MOTO_SECONDS:=1}"
  : "${BENCH_CONNECTIONS:=1,8,64}" "${BENCH_MOTO_CONNECTIONS:=1,8}"
fi
SECS=${BENCH_SECONDS:-5}
MOTO_SECS=${BENCH_MOTO_SECONDS:-2}
CONNS=${BENCH_CONNECTIONS:-1,8,32,64}
MOTO_CONNS=${BENCH_MOTO_CONNECTIONS:-1,8}
BATCH=${BENCH_BATCH:-10}
CYCLE_BATCHES=${BENCH_CYCLE_BATCHES:-1 10}
BODY=${BENCH_BODY_SIZE:-256}
TARGETS=${BENCH_TARGETS:-lull rabbitmq moto}
AMQP_URL=${BENCH_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}

RESULTS_DIR="$ROOT/bench/results"
JSONL="$RESULTS_DIR/latest.jsonl"
MD="$RESULTS_DIR/latest.md"
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

# One target's scenario matrix: SQS scenarios, then the full cycle per batch size.
matrix() { # kind url label seconds connections
  local kind=$1 url=$2 label=$3 secs=$4 conns=$5 b
  "$BENCH" run "--$kind" "$url" --target "$label" --scenario send,send-batch,recv \
    --connections "$conns" --batch "$BATCH" --body-size "$BODY" --duration "$secs" \
    --json-out "$JSONL" >/dev/null || FAILED+=("$label")
  for b in $CYCLE_BATCHES; do
    "$BENCH" run "--$kind" "$url" --target "$label" --scenario cycle \
      --connections "$conns" --batch "$b" --body-size "$BODY" --duration "$secs" \
      --json-out "$JSONL" >/dev/null || FAILED+=("$label cycle/$b")
  done
}

if wants lull; then
  log "starting lull"
  "$LULL" serve --listen 127.0.0.1:0 --data "$WORK/lull-data" >"$WORK/lull.out" 2>"$WORK/lull.err" &
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
  matrix sqs "$LULL_URL" lull "$SECS" "$CONNS"
  "$BENCH" run --healthz "$LULL_URL" --target lull --connections "$CONNS" \
    --duration "$SECS" --json-out "$JSONL" >/dev/null || FAILED+=("lull healthz")
  kill "$LULL_PID" 2>/dev/null || true
  wait "$LULL_PID" 2>/dev/null || true
  LULL_PID=""
fi

if wants rabbitmq; then
  if port_open 5672; then
    log "RabbitMQ at 127.0.0.1:5672"
    matrix amqp "$AMQP_URL" rabbitmq "$SECS" "$CONNS"
  else
    log "no RabbitMQ on 127.0.0.1:5672; skipping it"; FAILED+=("rabbitmq: not running")
  fi
fi

if wants moto; then
  if ! python3 -c 'import moto.server' 2>/dev/null; then
    log "installing moto[server]"
    python3 -m pip install --quiet 'moto[server]' >&2
  fi
  MOTO_PORT=$(free_port)
  log "starting moto on port $MOTO_PORT"
  python3 -m moto.server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 100); do port_open "$MOTO_PORT" && break; sleep 0.1; done
  matrix sqs "http://127.0.0.1:$MOTO_PORT" moto "$MOTO_SECS" "$MOTO_CONNS"
  kill "$MOTO_PID" 2>/dev/null || true
  wait "$MOTO_PID" 2>/dev/null || true
  MOTO_PID=""
fi

{
  echo "# lull benchmark — $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1);" \
    "everything (servers and load generator) on the same host."
  echo "Runs: ${SECS}s each (moto ${MOTO_SECS}s), body ${BODY} B, batch ${BATCH} for send-batch/recv," \
    "cycle batches: ${CYCLE_BATCHES}; connections ${CONNS} (moto ${MOTO_CONNS})."
  echo "moto $(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null || echo '?')."
  echo "Reproduce: \`bench/run.sh\`. p99 is per unit of work (request, receive+delete, or whole cycle)."
  echo
  "$BENCH" report "$JSONL"
  if ((${#FAILED[@]})); then
    echo
    echo "Incomplete: ${FAILED[*]}"
  fi
} >"$MD"

cat "$MD"
