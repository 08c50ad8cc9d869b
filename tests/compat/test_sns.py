"""SNS over the query protocol against lull: topics, attributes, tags, subscriptions of SQS
queues with fan-out (envelope and raw), filter policies, FIFO topics, PublishBatch, errors,
and aws-cli. SNS speaks only the query protocol in every botocore, so both virtualenvs drive
the same wire format; the `sqs` side follows the venv's protocol.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import boto3
import pytest
import requests
from botocore.config import Config

from compat_util import ACCOUNT, REGION, queue_arn, raises_code, receive_all, unique
from sns_verify import verify


def make_sns(endpoint: str, validate: bool = True):
    config = Config(
        region_name=REGION,
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        parameter_validation=validate,
    )
    return boto3.client(
        "sns",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="AKIDLULLTEST",
        aws_secret_access_key="lull-test-secret",
        config=config,
    )


@pytest.fixture(scope="module")
def sns(endpoint):
    client = make_sns(endpoint)
    assert client.meta.service_model.protocol == "query"
    return client


@pytest.fixture(scope="module")
def sns_raw(endpoint):
    """Skips botocore's parameter validation, to send what SNS itself must refuse."""
    return make_sns(endpoint, validate=False)


@pytest.fixture
def make_topic(sns):
    created: list[str] = []

    def create(prefix: str = "t", fifo: bool = False, **kw) -> str:
        name = unique(prefix) + (".fifo" if fifo else "")
        if fifo:
            kw.setdefault("Attributes", {})["FifoTopic"] = "true"
        arn = sns.create_topic(Name=name, **kw)["TopicArn"]
        created.append(arn)
        return arn

    yield create
    for arn in created:
        sns.delete_topic(TopicArn=arn)


def subscribe_queue(sns, sqs, topic_arn, make_queue, fifo=False, **attributes):
    url, name = make_queue("sub", fifo=fifo)
    kw = {"Attributes": attributes} if attributes else {}
    sub = sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn(name),
        ReturnSubscriptionArn=True,
        **kw,
    )["SubscriptionArn"]
    return url, sub


def all_topics(sns) -> list[str]:
    pages = sns.get_paginator("list_topics").paginate()
    return [t["TopicArn"] for p in pages for t in p.get("Topics", [])]


# ---------------------------------------------------------------- topics


def test_topic_lifecycle_and_idempotent_create(sns, wire):
    name = unique("topic")
    arn = sns.create_topic(Name=name)["TopicArn"]
    assert arn == f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
    assert sns.create_topic(Name=name)["TopicArn"] == arn
    assert arn in all_topics(sns)
    with raises_code("InvalidParameter"):
        sns.create_topic(Name=name, Attributes={"DisplayName": "other"})
    sns.delete_topic(TopicArn=arn)
    assert arn not in all_topics(sns)
    with raises_code("InvalidParameter"):
        sns.create_topic(Name="bad name!")


def test_topic_attributes(sns, make_topic, wire):
    arn = make_topic(Attributes={"DisplayName": "first"})
    a = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert a["TopicArn"] == arn
    assert a["Owner"] == ACCOUNT
    assert a["DisplayName"] == "first"
    assert a["SubscriptionsConfirmed"] == "0"
    assert json.loads(a["Policy"])["Statement"]
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="second")
    a = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert a["DisplayName"] == "second"
    with raises_code("InvalidParameter"):
        sns.set_topic_attributes(TopicArn=arn, AttributeName="NoSuchThing", AttributeValue="x")


def test_list_topics_pages_by_100(sns, wire):
    prefix = unique("page")
    arns = [sns.create_topic(Name=f"{prefix}-{i:03}")["TopicArn"] for i in range(105)]
    try:
        first = sns.list_topics()
        assert len(first["Topics"]) == 100
        assert first["NextToken"]
        second = sns.list_topics(NextToken=first["NextToken"])
        seen = [t["TopicArn"] for t in first["Topics"] + second["Topics"]]
        assert len(seen) == len(set(seen))
        assert set(arns) <= set(all_topics(sns))
        with raises_code("InvalidParameter"):
            sns.list_topics(NextToken="not base64 at all!")
    finally:
        for arn in arns:
            sns.delete_topic(TopicArn=arn)


def test_tags(sns, make_topic, wire):
    arn = make_topic(Tags=[{"Key": "team", "Value": "core"}])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "team", "Value": "core"}
    ]
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
    tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    assert tags == {"team": "core", "env": "dev"}
    sns.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    sns.untag_resource(ResourceArn=arn, TagKeys=["env"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == []
    missing = arn + "-gone"
    with raises_code("ResourceNotFound"):
        sns.list_tags_for_resource(ResourceArn=missing)
    with raises_code("ResourceNotFound"):
        sns.tag_resource(ResourceArn=missing, Tags=[{"Key": "k", "Value": "v"}])


# ---------------------------------------------------------------- subscriptions


def test_subscriptions_list_attributes_unsubscribe(sns, sqs, make_topic, make_queue, wire):
    arn = make_topic()
    url, sub = subscribe_queue(sns, sqs, arn, make_queue)
    assert sub.startswith(arn + ":")
    _, name = make_queue("again")
    # Subscribing the same endpoint again answers the same subscription.
    again = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn(name))
    assert again["SubscriptionArn"] != sub
    by_topic = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert {s["SubscriptionArn"] for s in by_topic} == {sub, again["SubscriptionArn"]}
    row = next(s for s in by_topic if s["SubscriptionArn"] == sub)
    assert row["Protocol"] == "sqs" and row["TopicArn"] == arn and row["Owner"] == ACCOUNT
    everything = [
        s["SubscriptionArn"]
        for p in sns.get_paginator("list_subscriptions").paginate()
        for s in p["Subscriptions"]
    ]
    assert sub in everything
    a = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert a["TopicArn"] == arn and a["Protocol"] == "sqs"
    assert a["RawMessageDelivery"] == "false" and a["PendingConfirmation"] == "false"
    sns.set_subscription_attributes(
        SubscriptionArn=sub, AttributeName="RawMessageDelivery", AttributeValue="true"
    )
    a = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert a["RawMessageDelivery"] == "true"
    sns.unsubscribe(SubscriptionArn=sub)
    assert sub not in [
        s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    ]
    with raises_code("NotFound"):
        sns.get_subscription_attributes(SubscriptionArn=sub)


def test_http_subscription_is_pending(sns, make_topic, wire):
    arn = make_topic()
    got = sns.subscribe(TopicArn=arn, Protocol="http", Endpoint="http://127.0.0.1:9/hook")
    assert got["SubscriptionArn"] == "pending confirmation"
    got = sns.subscribe(
        TopicArn=arn,
        Protocol="http",
        Endpoint="http://127.0.0.1:9/hook",
        ReturnSubscriptionArn=True,
    )
    assert got["SubscriptionArn"].startswith(arn + ":")
    listed = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == ["PendingConfirmation"]
    a = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert a["SubscriptionsPending"] == "1"
    with raises_code("InvalidParameter"):
        sns.confirm_subscription(TopicArn=arn, Token="nope")
    with raises_code("InvalidParameter"):
        sns.subscribe(TopicArn=arn, Protocol="carrier-pigeon", Endpoint="x")


# ---------------------------------------------------------------- publish and fan-out


def test_publish_delivers_the_envelope(sns, sqs, make_topic, make_queue, wire):
    arn = make_topic()
    url, sub = subscribe_queue(sns, sqs, arn, make_queue)
    sent = sns.publish(
        TopicArn=arn,
        Message="olá, mundo",
        Subject="greeting",
        MessageAttributes={
            "color": {"DataType": "String", "StringValue": "red"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
            "n": {"DataType": "Number", "StringValue": "42"},
        },
    )
    assert sent["MessageId"]
    msgs = receive_all(sqs, url, expect=1)
    assert len(msgs) == 1
    env = json.loads(msgs[0]["Body"])
    assert env["Type"] == "Notification"
    assert env["MessageId"] == sent["MessageId"]
    assert env["TopicArn"] == arn
    assert env["Message"] == "olá, mundo"
    assert env["Subject"] == "greeting"
    assert env["MessageAttributes"] == {
        "color": {"Type": "String", "Value": "red"},
        "blob": {"Type": "Binary", "Value": base64.b64encode(b"\x00\x01").decode()},
        "n": {"Type": "Number", "Value": "42"},
    }
    assert sub in env["UnsubscribeURL"].replace("%3A", ":")
    # Signed as SNS signs (SHA1withRSA by default), checkable with the served certificate.
    assert env["SignatureVersion"] == "1"
    verify(env)
    with pytest.raises(Exception):
        verify(dict(env, Message="forged"))
    # TargetArn names the topic just as well.
    sns.publish(TargetArn=arn, Message="second")
    assert json.loads(receive_all(sqs, url, expect=1)[0]["Body"])["Message"] == "second"


def test_raw_delivery(sns, sqs, make_topic, make_queue, wire):
    arn = make_topic()
    url, _ = subscribe_queue(sns, sqs, arn, make_queue, RawMessageDelivery="true")
    sns.publish(
        TopicArn=arn,
        Message='{"just": "the body"}',
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "raw"}},
    )
    msgs = receive_all(sqs, url, expect=1, MessageAttributeNames=["All"])
    assert msgs[0]["Body"] == '{"just": "the body"}'
    assert msgs[0]["MessageAttributes"]["kind"] == {"DataType": "String", "StringValue": "raw"}


def test_filter_policy_selects_subscribers(sns, sqs, make_topic, make_queue, wire):
    arn = make_topic()
    red_url, red_sub = subscribe_queue(
        sns, sqs, arn, make_queue, FilterPolicy=json.dumps({"color": ["red"]})
    )
    all_url, _ = subscribe_queue(sns, sqs, arn, make_queue)
    for color in ["red", "blue"]:
        sns.publish(
            TopicArn=arn,
            Message=color,
            MessageAttributes={"color": {"DataType": "String", "StringValue": color}},
        )
    everything = receive_all(sqs, all_url, expect=2)
    assert sorted(json.loads(m["Body"])["Message"] for m in everything) == ["blue", "red"]
    red = receive_all(sqs, red_url, expect=None, WaitTimeSeconds=2)
    assert [json.loads(m["Body"])["Message"] for m in red] == ["red"]
    a = sns.get_subscription_attributes(SubscriptionArn=red_sub)["Attributes"]
    assert json.loads(a["FilterPolicy"]) == {"color": ["red"]}
    with raises_code("InvalidParameter"):
        sns.set_subscription_attributes(
            SubscriptionArn=red_sub, AttributeName="FilterPolicy", AttributeValue="{not json"
        )
    _, name = make_queue("badfilter")
    with raises_code("InvalidParameter"):
        sns.subscribe(
            TopicArn=arn,
            Protocol="sqs",
            Endpoint=queue_arn(name),
            Attributes={"FilterPolicy": json.dumps({"color": "red"})},
        )


def test_fifo_topic_keeps_order_and_dedups(sns, sqs, make_topic, make_queue, wire):
    arn = make_topic("ft", fifo=True)
    assert arn.endswith(".fifo")
    url, _ = subscribe_queue(sns, sqs, arn, make_queue, fifo=True, RawMessageDelivery="true")
    ids = []
    for i in range(5):
        r = sns.publish(
            TopicArn=arn, Message=f"m{i}", MessageGroupId="g", MessageDeduplicationId=f"d{i}"
        )
        assert r["SequenceNumber"]
        ids.append(r["MessageId"])
    repeat = sns.publish(TopicArn=arn, Message="m1 again", MessageGroupId="g", MessageDeduplicationId="d1")
    assert repeat["MessageId"] == ids[1]
    got = []
    for _ in range(10):
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        for m in msgs:
            got.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if len(got) >= 5 and not msgs:
            break
    assert got == [f"m{i}" for i in range(5)]
    with raises_code("InvalidParameter"):
        sns.publish(TopicArn=arn, Message="no group", MessageDeduplicationId="x")
    std_url, std_name = make_queue("std")
    with raises_code("InvalidParameter"):
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn(std_name))


def test_publish_batch(sns, sns_raw, sqs, make_topic, make_queue, wire):
    arn = make_topic()
    url, _ = subscribe_queue(sns, sqs, arn, make_queue, RawMessageDelivery="true")
    r = sns.publish_batch(
        TopicArn=arn,
        PublishBatchRequestEntries=[
            {"Id": "a", "Message": "one"},
            {"Id": "b", "Message": "two", "Subject": "s"},
            {
                "Id": "c",
                "Message": "bad",
                "MessageAttributes": {"x": {"DataType": "Mystery", "StringValue": "v"}},
            },
        ],
    )
    assert sorted(e["Id"] for e in r["Successful"]) == ["a", "b"]
    assert all(e["MessageId"] for e in r["Successful"])
    assert len(r["Failed"]) == 1
    failed = r["Failed"][0]
    assert failed["Id"] == "c" and failed["Code"] == "InvalidParameter" and failed["SenderFault"]
    bodies = sorted(m["Body"] for m in receive_all(sqs, url, expect=2))
    assert bodies == ["one", "two"]

    with raises_code("BatchEntryIdsNotDistinct"):
        sns.publish_batch(
            TopicArn=arn,
            PublishBatchRequestEntries=[{"Id": "x", "Message": "1"}, {"Id": "x", "Message": "2"}],
        )
    with raises_code("TooManyEntriesInBatchRequest"):
        sns.publish_batch(
            TopicArn=arn,
            PublishBatchRequestEntries=[{"Id": f"e{i}", "Message": "m"} for i in range(11)],
        )
    with raises_code("EmptyBatchRequest"):
        sns_raw.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[])
    with raises_code("InvalidBatchEntryId"):
        sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[{"Id": "a b", "Message": "m"}])
    with raises_code("NotFound"):
        sns.publish_batch(
            TopicArn=arn + "-gone", PublishBatchRequestEntries=[{"Id": "a", "Message": "m"}]
        )
    # The codes map onto botocore's modeled exceptions.
    with pytest.raises(sns.exceptions.BatchEntryIdsNotDistinctException):
        sns.publish_batch(
            TopicArn=arn,
            PublishBatchRequestEntries=[{"Id": "x", "Message": "1"}, {"Id": "x", "Message": "2"}],
        )


# ---------------------------------------------------------------- errors


def test_errors(sns, sns_raw, make_topic, endpoint, wire):
    missing = f"arn:aws:sns:{REGION}:{ACCOUNT}:{unique('missing')}"
    with pytest.raises(sns.exceptions.NotFoundException) as info:
        sns.publish(TopicArn=missing, Message="hello")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with raises_code("NotFound"):
        sns.get_topic_attributes(TopicArn=missing)
    with raises_code("NotFound"):
        sns.list_subscriptions_by_topic(TopicArn=missing)
    arn = make_topic()
    with raises_code("InvalidParameter"):
        sns.publish(TopicArn=arn, Message="")
    with raises_code("InvalidParameter"):
        sns_raw.publish(Message="nowhere")
    # botocore always base64-encodes blobs, so a malformed one has to be sent by hand.
    r = requests.post(
        endpoint,
        data={
            "Action": "Publish",
            "TopicArn": arn,
            "Message": "m",
            "MessageAttributes.entry.1.Name": "b",
            "MessageAttributes.entry.1.Value.DataType": "Binary",
            "MessageAttributes.entry.1.Value.BinaryValue": "@@not base64@@",
        },
        timeout=10,
    )
    assert r.status_code == 400 and "<Code>ParameterValueInvalid</Code>" in r.text
    with pytest.raises(sns.exceptions.InvalidParameterException):
        sns.publish(TopicArn="not-an-arn", Message="m")
    r = requests.post(
        endpoint,
        data={"Action": "FlyToTheMoon", "Version": "2010-03-31"},
        headers={
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sns/aws4_request, "
            "SignedHeaders=host, Signature=00"
        },
        timeout=10,
    )
    assert r.status_code == 400
    assert "<Code>InvalidAction</Code>" in r.text
    assert 'xmlns="http://sns.amazonaws.com/doc/2010-03-31/"' in r.text


def test_sqs_actions_still_reach_sqs(sqs, make_queue, endpoint, wire):
    url, name = make_queue("route")
    r = requests.post(endpoint, data={"Action": "GetQueueUrl", "QueueName": name}, timeout=10)
    assert r.status_code == 200 and url.split("/")[-1] in r.text
    assert "queue.amazonaws.com" in r.text


# ---------------------------------------------------------------- aws-cli


def test_aws_cli_sns(endpoint, tmp_path, wire):
    env = dict(os.environ)
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "AKIDLULLTEST",
            "AWS_SECRET_ACCESS_KEY": "lull-test-secret",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(tmp_path / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
            "AWS_PAGER": "",
            "HOME": str(tmp_path),
        }
    )
    env.pop("AWS_PROFILE", None)

    def aws(*args):
        cmd = [sys.executable, "-m", "awscli", "--endpoint-url", endpoint, "--output", "json"]
        p = subprocess.run(cmd + ["sns", *args], env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout) if p.stdout.strip() else None

    name = unique("cli")
    arn = aws("create-topic", "--name", name)["TopicArn"]
    try:
        listed = aws("list-topics")
        assert arn in [t["TopicArn"] for t in listed["Topics"]]
        got = aws("get-topic-attributes", "--topic-arn", arn)
        assert got["Attributes"]["TopicArn"] == arn
    finally:
        aws("delete-topic", "--topic-arn", arn)
