"""The seed's simulation scripts (simulation/*.sh), one command each:

    python simulation.py produce [COUNT]     producer-event.sh: 3 producers, COUNT events each
    python simulation.py produce-errors      producer-event-error.sh: invalid events
    python simulation.py produce-duplicates  producer-event-duplication.sh: one event, 3 times
    python simulation.py client N            client-eventN.sh: what client N received
    python simulation.py dlq                 client-event-dlq.sh: the invalid events

Producers send to `events.fifo`, producer N in message group `clientN` with the event id as
deduplication id. Clients read their own FIFO queue, subscribed to `client-events.fifo`
with a filter on the `client` attribute. The endpoint comes from AWS_ENDPOINT_URL.
"""

import json
import sys

import boto3

CLIENTS = ("client1", "client2", "client3")
INVALID = [
    "{not json",
    json.dumps({"event_id": "bad-1", "client": "client2", "type": "order.created"}),
]


def queue_url(sqs, name: str) -> str:
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]


def event(client: str, seq: int, kind: str = "order.created") -> dict:
    return {
        "event_id": f"{client}-{seq:04}",
        "client": client,
        "seq": seq,
        "type": kind,
        "data": {"order": f"{client}-order-{seq}", "amount": seq * 10},
    }


def send(sqs, url: str, body: str, group: str, dedup_id: str) -> None:
    sqs.send_message(
        QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=dedup_id
    )


def produce(sqs, count: int, first: int = 1) -> None:
    """The producers take turns, so the queue holds all groups interleaved."""
    url = queue_url(sqs, "events.fifo")
    for seq in range(first, first + count):
        for client in CLIENTS:
            e = event(client, seq)
            send(sqs, url, json.dumps(e), client, e["event_id"])


def produce_errors(sqs) -> None:
    url = queue_url(sqs, "events.fifo")
    for n, body in enumerate(INVALID):
        send(sqs, url, body, "producer-error", f"invalid-{n}")


def produce_duplicates(sqs, seq: int) -> None:
    """The same event three times: the queue's deduplication keeps the first."""
    url = queue_url(sqs, "events.fifo")
    e = event("client1", seq, "order.duplicated")
    for _ in range(3):
        send(sqs, url, json.dumps(e), "client1", e["event_id"])


def drain(sqs, name: str, wait: int = 1) -> list:
    """Everything on the queue, in the order received; each message deleted once read."""
    url = queue_url(sqs, name)
    got = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
        ).get("Messages", [])
        if not messages:
            return got
        for m in messages:
            got.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def main() -> None:
    sqs = boto3.client("sqs")
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "produce":
        produce(sqs, int(sys.argv[2]) if len(sys.argv) > 2 else 5)
    elif command == "produce-errors":
        produce_errors(sqs)
    elif command == "produce-duplicates":
        produce_duplicates(sqs, 1000)
    elif command == "client":
        for body in drain(sqs, f"client{sys.argv[2]}-events.fifo"):
            print(body)
    elif command == "dlq":
        for body in drain(sqs, "events-dlq.fifo"):
            print(body)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
