"""Consumer: long-polls the queue, "sends the welcome email", deletes the message
(seed: src/consumidor.py).

Endpoint and queue from the environment, as in produtor.py. WAIT_SECONDS is the long-poll
wait (default 20, the most SQS allows). The seed's consumer runs forever; with
--exit-when-idle N it stops after N empty polls in a row, which scripts and tests use.

Each processed message prints one line: `processada: SEQ EMAIL`.
"""

import argparse
import json
import os

import boto3

from produtor import queue_url


def send_welcome_email(user: dict) -> None:
    # The seed only simulates the email; so does this.
    print(f"processada: {user['seq']} {user['email']}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exit-when-idle", type=int, default=0, metavar="N")
    args = parser.parse_args()
    wait = int(os.environ.get("WAIT_SECONDS", "20"))
    sqs = boto3.client("sqs")
    url = queue_url(sqs)
    idle = 0
    while True:
        response = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
        )
        messages = response.get("Messages", [])
        if not messages:
            idle += 1
            if args.exit_when_idle and idle >= args.exit_when_idle:
                return
            continue
        idle = 0
        for message in messages:
            send_welcome_email(json.loads(message["Body"]))
            # Deleted only once processed: a crash before this line means redelivery.
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


if __name__ == "__main__":
    main()
