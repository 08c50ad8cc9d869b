"""Publishes new-customer notifications to the NewClientNotification topic, as any
service of the seed's system would (its local_test.py sent this same message).

    python publish.py '{"name_costumer": "Leonardo", "email": "leonardo@example.com", "phone": "+5511999999999"}' ...

Each argument is published as is, so malformed ones can be sent too. The endpoint comes
from AWS_ENDPOINT_URL.
"""

import sys

import boto3


def topic_arn(sns, name: str) -> str:
    # CreateTopic is idempotent and returns the existing topic's ARN.
    return sns.create_topic(Name=name)["TopicArn"]


def main() -> None:
    sns = boto3.client("sns")
    arn = topic_arn(sns, "NewClientNotification")
    for message in sys.argv[1:]:
        response = sns.publish(TopicArn=arn, Message=message)
        print(f"published {response['MessageId']}", flush=True)


if __name__ == "__main__":
    main()
