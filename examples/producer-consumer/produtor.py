"""Producer: sends one "new user" message per user to the queue (seed: src/produtor.py).

The endpoint and the queue come from the environment, as the seed's README recommends for
anything beyond a demo: AWS_ENDPOINT_URL (read by boto3 itself), QUEUE_URL or QUEUE_NAME.
Pointing at lull instead of AWS is only AWS_ENDPOINT_URL.

    python produtor.py [COUNT]
"""

import json
import os
import sys

import boto3


def queue_url(sqs) -> str:
    url = os.environ.get("QUEUE_URL")
    if url:
        return url
    return sqs.get_queue_url(QueueName=os.environ["QUEUE_NAME"])["QueueUrl"]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    sqs = boto3.client("sqs")
    url = queue_url(sqs)
    fifo = url.endswith(".fifo")
    for seq in range(1, count + 1):
        user = {"seq": seq, "nome": f"Usuario {seq}", "email": f"usuario{seq}@example.com"}
        params = {"QueueUrl": url, "MessageBody": json.dumps(user)}
        if fifo:
            # One group keeps every registration in the order it was made.
            params["MessageGroupId"] = "cadastros"
            params["MessageDeduplicationId"] = f"usuario-{seq}"
        response = sqs.send_message(**params)
        print(f"enviada: {user['email']} (MessageId {response['MessageId']})", flush=True)


if __name__ == "__main__":
    main()
