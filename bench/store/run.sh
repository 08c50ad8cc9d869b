#!/usr/bin/env bash
# Runs every scenario for every engine, interleaving engines and repeating (ROUNDS, default 5)
# so that a busy machine hurts them all alike; prints one line per result. summarize.py takes
# the median of each figure.
# Usage: cargo build --release && ./run.sh [SCRATCH_DIR] > results.tsv && python3 summarize.py results.tsv
set -euo pipefail
cd "$(dirname "$0")"
B=${STOREBENCH_BIN:-target/release/storebench}
D=${1:-/tmp/storebench-data}
ENGINES="redb fjall sqlite-full sqlite-normal"
for round in $(seq "${ROUNDS:-5}"); do
  echo "# round $round" >&2
  for batch in 1 16 128 1024; do
    for e in $ENGINES; do BATCHES=$batch BUDGET_MS=1500 "$B" $e commits "$D/$e"; done
    REDB_QUICK_REPAIR=1 BATCHES=$batch BUDGET_MS=1500 "$B" redb commits "$D/redb" | sed 's/^redb/redb+quick_repair/'
  done
  for e in $ENGINES; do "$B" $e churn "$D/$e"; done
done
for round in $(seq "${SCAN_ROUNDS:-2}"); do
  for e in redb fjall sqlite-full; do
    "$B" $e scan "$D/$e"
    ( "$B" $e abort "$D/$e" ) 2>/dev/null || true   # crash right after a durable commit
    "$B" $e reopen "$D/$e" | sed 's/reopen/reopen_after_crash/'
  done
  REDB_QUICK_REPAIR=1 "$B" redb scan "$D/redb" | sed 's/^redb/redb+quick_repair/'
  ( REDB_QUICK_REPAIR=1 "$B" redb abort "$D/redb" ) 2>/dev/null || true
  "$B" redb reopen "$D/redb" | sed 's/^redb\treopen/redb+quick_repair\treopen_after_crash/'
done
rm -rf "$D"
