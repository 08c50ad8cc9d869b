"""The flow `run` checks: good customers published to NewClientNotification end up in the
`costumers` table, exactly once each; malformed notifications end up in NewClientDLQ and
nowhere else. Exits non-zero with the reason on any mismatch.
"""

import json
import sys
import time

import boto3

from connection_postgresql import connect
from publish import topic_arn

GOOD = [
    {"name_costumer": "Leonardo", "email": "leonardo@example.com", "phone": "+5511999999999"},
    {"name_costumer": "Marina Costa", "email": "marina@example.com", "phone": "+5521912340001"},
    {"name_costumer": "João Silva", "email": "joao@example.com", "phone": "+5531988887777"},
    {"name_costumer": "Ana", "email": "ana@example.com", "phone": "+5541977776666"},
    {"name_costumer": "Pedro", "email": "pedro@example.com", "phone": "+5551966665555"},
]
MALFORMED = [
    "this is not json",
    json.dumps({"name_costumer": "Sem Email", "phone": "+5511900000000"}),
]
DEADLINE = 40.0


def fail(why: str) -> None:
    print(f"customer-registration: FAIL: {why}", file=sys.stderr)
    sys.exit(1)


def rows() -> list:
    with connect() as conn:
        return conn.execute(
            "SELECT name_costumer, email, phone FROM costumers ORDER BY id"
        ).fetchall()


def dead_letters(sqs, url: str) -> list:
    got = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        if not messages:
            return got
        got.extend(m["Body"] for m in messages)


def main() -> None:
    sns = boto3.client("sns")
    sqs = boto3.client("sqs")
    arn = topic_arn(sns, "NewClientNotification")
    # Malformed ones in between, so batches mix good and bad records.
    for i, customer in enumerate(GOOD):
        sns.publish(TopicArn=arn, Message=json.dumps(customer))
        if i < len(MALFORMED):
            sns.publish(TopicArn=arn, Message=MALFORMED[i])

    expected = sorted((c["name_costumer"], c["email"], c["phone"]) for c in GOOD)
    start = time.monotonic()
    while sorted(rows()) != expected:
        if time.monotonic() - start > DEADLINE:
            fail(f"costumers table holds {rows()}, expected {expected}")
        time.sleep(0.2)

    dlq = sqs.get_queue_url(QueueName="NewClientDLQ")["QueueUrl"]
    bodies = []
    while sorted(bodies) != sorted(MALFORMED):
        if time.monotonic() - start > DEADLINE:
            fail(f"NewClientDLQ holds {bodies}, expected {MALFORMED}")
        bodies.extend(dead_letters(sqs, dlq))

    # The malformed records were retried, not stored; the good ones stored once.
    if sorted(rows()) != expected:
        fail(f"costumers table changed to {rows()}")
    source = sqs.get_queue_url(QueueName="NewClientFunctionSQS")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["All"])["Attributes"]
    left = int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )
    if left:
        fail(f"NewClientFunctionSQS still holds {left} messages")
    print(
        f"customer-registration: ok ({len(GOOD)} customers stored once each, "
        f"{len(MALFORMED)} malformed notifications in NewClientDLQ)"
    )


if __name__ == "__main__":
    main()
