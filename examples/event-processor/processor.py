"""The event processor (seed: the Lambda function bound to the producers' FIFO queue).

lull runs it as a command function for each batch from `events.fifo`: the Lambda SQS event
on stdin, the answer on stdout. Each valid event is published to the `client-events.fifo`
topic in its client's message group, so each client's queue gets its own events in order.
An invalid event is reported in `batchItemFailures`; once the queue's `max_receives` is
used up, lull's redrive moves it to `events-dlq.fifo`.

FIFO rule (as AWS documents it for Lambda): once a record fails, the later records of the
batch are failed too, unprocessed, so that each group's order holds when they come back.

The topic is found from the record's own queue ARN (same region and account). The endpoint
is AWS_ENDPOINT_URL (read by boto3 itself) when set, else LULL_ENDPOINT, where lull tells
its commands it serves.
"""

import json
import os
import sys

import boto3

TOPIC = "client-events.fifo"


class InvalidEvent(ValueError):
    pass


def validate(body: str) -> dict:
    try:
        event = json.loads(body)
    except json.JSONDecodeError as e:
        raise InvalidEvent(f"not JSON: {e}") from e
    if not isinstance(event, dict):
        raise InvalidEvent("not a JSON object")
    for field in ("event_id", "client", "type"):
        if not isinstance(event.get(field), str) or not event[field]:
            raise InvalidEvent(f"{field} missing or not a string")
    seq = event.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise InvalidEvent("seq must be a positive integer")
    if not isinstance(event.get("data"), dict):
        raise InvalidEvent("data must be an object")
    return event


def topic_arn(record: dict) -> str:
    # arn:aws:sqs:REGION:ACCOUNT:QUEUE -> arn:aws:sns:REGION:ACCOUNT:TOPIC
    _, _, _, region, account, _ = record["eventSourceARN"].split(":", 5)
    return f"arn:aws:sns:{region}:{account}:{TOPIC}"


def sns_client(region: str):
    endpoint = None if os.environ.get("AWS_ENDPOINT_URL") else os.environ.get("LULL_ENDPOINT")
    return boto3.client("sns", region_name=region, endpoint_url=endpoint)


def lambda_handler(event, context=None):
    sns = None
    failures = []
    for record in event["Records"]:
        try:
            if failures:
                raise InvalidEvent("an earlier record of the batch failed")
            valid = validate(record["body"])
            sns = sns or sns_client(record["awsRegion"])
            sns.publish(
                TopicArn=topic_arn(record),
                Message=json.dumps(valid),
                MessageGroupId=valid["client"],
                MessageDeduplicationId=valid["event_id"],
                MessageAttributes={
                    "client": {"DataType": "String", "StringValue": valid["client"]}
                },
            )
        except Exception as e:  # noqa: BLE001 - every failure is reported per record
            print(f"record {record['messageId']} failed: {e}", file=sys.stderr)
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


if __name__ == "__main__":
    json.dump(lambda_handler(json.load(sys.stdin)), sys.stdout)
