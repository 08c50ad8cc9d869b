"""The flow `run` checks: three producers' events, interleaved on `events.fifo`, reach each
client's queue exactly once and in order; a duplicate sent three times arrives once; the
invalid events end in `events-dlq.fifo` and nowhere else. Exits non-zero with the reason on
any mismatch.
"""

import json
import sys
import time

import boto3

import simulation

COUNT = 10
DEADLINE = 40.0


def fail(why: str) -> None:
    print(f"event-processor: FAIL: {why}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    sqs = boto3.client("sqs")
    simulation.produce(sqs, COUNT)
    simulation.produce_errors(sqs)
    simulation.produce_duplicates(sqs, COUNT + 1)

    expected = {c: list(range(1, COUNT + 1)) for c in simulation.CLIENTS}
    expected["client1"].append(COUNT + 1)  # the duplicated event, once
    got = {c: [] for c in simulation.CLIENTS}
    dead = []
    start = time.monotonic()
    while got != expected or sorted(dead) != sorted(simulation.INVALID):
        if time.monotonic() - start > DEADLINE:
            fail(
                f"clients got {got} and the DLQ {len(dead)} events {dead[:3]}...; "
                f"expected {expected} and {simulation.INVALID}"
            )
        for client in simulation.CLIENTS:
            for body in simulation.drain(sqs, f"{client}-events.fifo", wait=0):
                e = json.loads(body)
                if e["client"] != client:
                    fail(f"{client}'s queue got an event for {e['client']}: {e}")
                got[client].append(e["seq"])
        dead.extend(simulation.drain(sqs, "events-dlq.fifo", wait=0))
        valid_dead = [b for b in dead if b not in simulation.INVALID]
        if valid_dead:
            fail(
                f"{len(valid_dead)} valid events were dead-lettered, first {valid_dead[0]}: "
                "the processor failed them (can it reach lull? see LULL_ENDPOINT)"
            )
        for client, seqs in got.items():
            if seqs != expected[client][: len(seqs)]:
                fail(f"{client} got {seqs}: out of order or duplicated")
        time.sleep(0.2)

    # Nothing more trickles in afterwards (a late duplicate, a retried invalid event).
    time.sleep(1.5)
    for client in simulation.CLIENTS:
        late = simulation.drain(sqs, f"{client}-events.fifo", wait=0)
        if late:
            fail(f"{client} got more events later: {late}")
    late = simulation.drain(sqs, "events-dlq.fifo", wait=0)
    if late:
        fail(f"the DLQ got more later: {late}")
    print(
        f"event-processor: ok (3 clients x {COUNT} events in order, duplicate kept once, "
        f"{len(simulation.INVALID)} invalid events in the DLQ)"
    )


if __name__ == "__main__":
    main()
