"""Declarative resources in lull.toml against the real binary: `[queues.*]`, `[topics.*]` with
their subscriptions and `[functions.*]` are created at start (checked with boto3), a restart
with the same file changes nothing, a changed file updates what changed in place, and
mistakes stop the start with a non-zero exit naming the file and the key — changing nothing.

Each test runs its own servers, so these tests are skipped with LULL_COMPAT_ENDPOINT.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from compat_util import ACCOUNT, REGION, attrs, queue_arn, raises_code, receive_all
from conftest import lull_binary, make_client


def make_sns(endpoint: str):
    return boto3.client(
        "sns",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="AKIDLULLTEST",
        aws_secret_access_key="lull-test-secret",
        config=Config(region_name=REGION, retries={"max_attempts": 1, "mode": "standard"}),
    )


def topic_arn(name: str) -> str:
    return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"


class Declared:
    """A data directory and a lull.toml next to it; starts servers on them."""

    def __init__(self, server_factory, tmp_path: Path):
        self.factory = server_factory
        self.data = tmp_path / "data"
        self.config = tmp_path / "lull.toml"
        self.server = None

    def start(self, text: str):
        self.config.write_text(text)
        self.server = self.factory(self.data, ["--config", str(self.config)])
        return make_client(self.server.endpoint), make_sns(self.server.endpoint)

    def stop(self):
        assert self.server.stop() == 0, self.server.stderr_tail()

    def refused(self, text: str) -> str:
        """Starts with `text`, expects a non-zero exit; answers stderr."""
        self.config.write_text(text)
        p = subprocess.run(
            [str(lull_binary()), "serve", "--listen", "127.0.0.1:0", "--data", str(self.data),
             "--config", str(self.config)],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )
        assert p.returncode != 0, f"lull started with a bad config: {p.stdout} {p.stderr}"
        assert "lull listening on" not in p.stdout
        return p.stderr


@pytest.fixture
def declared(server_factory, tmp_path):
    return Declared(server_factory, tmp_path)


def url_of(sqs, name: str) -> str:
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]


def subscriptions(sns, topic: str) -> dict:
    """Endpoint -> subscription attributes."""
    out = {}
    for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn(topic))["Subscriptions"]:
        a = sns.get_subscription_attributes(SubscriptionArn=s["SubscriptionArn"])["Attributes"]
        out[s["Endpoint"]] = a
    return out


FULL = """
[queues.orders]
visibility_timeout = "45s"
delay = "2s"
retention = "2d"
max_message_size = 65536
receive_wait = "5s"
dead_letter = { queue = "orders-dlq", max_receives = 4 }
tags = { team = "checkout", env = "dev" }

[queues.orders-dlq]
retention = "14d"

[queues."ledger.fifo"]
content_based_deduplication = true
deduplication_scope = "messageGroup"
fifo_throughput_limit = "perMessageGroupId"
dead_letter = { queue = "ledger-dlq.fifo", max_receives = 2 }

[queues."ledger-dlq.fifo"]

[queues.audit]
attributes = { RedriveAllowPolicy = '{"redrivePermission":"denyAll"}' }

[topics.new-orders]
attributes = { DisplayName = "New orders" }
tags = { team = "checkout" }
subscriptions = [
  { queue = "orders", raw = true, filter_policy = { kind = ["order"] } },
  { queue = "audit", filter_policy = '{"total": [{"numeric": [">", 100]}]}', filter_scope = "MessageBody" },
  { function = "register" },
]

[topics."ledger.fifo"]
content_based_deduplication = true
subscriptions = [{ queue = "ledger.fifo", raw = true }]

[functions.register]
url = "http://127.0.0.1:9/unused"
timeout = "10s"
"""


def test_declared_queues_topics_and_subscriptions_are_created(declared, wire):
    sqs, sns = declared.start(FULL)

    a = attrs(sqs, url_of(sqs, "orders"))
    assert a["VisibilityTimeout"] == "45"
    assert a["DelaySeconds"] == "2"
    assert a["MessageRetentionPeriod"] == "172800"
    assert a["MaximumMessageSize"] == "65536"
    assert a["ReceiveMessageWaitTimeSeconds"] == "5"
    assert json.loads(a["RedrivePolicy"]) == {
        "deadLetterTargetArn": queue_arn("orders-dlq"),
        "maxReceiveCount": 4,
    }
    assert sqs.list_queue_tags(QueueUrl=url_of(sqs, "orders"))["Tags"] == {
        "team": "checkout",
        "env": "dev",
    }
    assert attrs(sqs, url_of(sqs, "orders-dlq"))["MessageRetentionPeriod"] == "1209600"
    # The dead-letter queue knows its source.
    sources = sqs.list_dead_letter_source_queues(QueueUrl=url_of(sqs, "orders-dlq"))
    assert sources["queueUrls"] == [url_of(sqs, "orders")]

    f = attrs(sqs, url_of(sqs, "ledger.fifo"))
    assert f["FifoQueue"] == "true"
    assert f["ContentBasedDeduplication"] == "true"
    assert f["DeduplicationScope"] == "messageGroup"
    assert f["FifoThroughputLimit"] == "perMessageGroupId"
    assert json.loads(f["RedrivePolicy"])["deadLetterTargetArn"] == queue_arn("ledger-dlq.fifo")
    assert json.loads(attrs(sqs, url_of(sqs, "audit"))["RedriveAllowPolicy"]) == {
        "redrivePermission": "denyAll"
    }
    # Every function has its invoke queue, where topic deliveries wait.
    assert attrs(sqs, url_of(sqs, "lull-function-register"))["VisibilityTimeout"] == "15"

    t = sns.get_topic_attributes(TopicArn=topic_arn("new-orders"))["Attributes"]
    assert t["DisplayName"] == "New orders"
    tags = sns.list_tags_for_resource(ResourceArn=topic_arn("new-orders"))["Tags"]
    assert tags == [{"Key": "team", "Value": "checkout"}]
    subs = subscriptions(sns, "new-orders")
    assert set(subs) == {
        queue_arn("orders"),
        queue_arn("audit"),
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:register",
    }
    assert subs[queue_arn("orders")]["RawMessageDelivery"] == "true"
    assert json.loads(subs[queue_arn("orders")]["FilterPolicy"]) == {"kind": ["order"]}
    assert subs[queue_arn("audit")]["RawMessageDelivery"] == "false"
    assert subs[queue_arn("audit")]["FilterPolicyScope"] == "MessageBody"
    lam = subs[f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:register"]
    assert lam["Protocol"] == "lambda" and lam["PendingConfirmation"] == "false"

    ft = sns.get_topic_attributes(TopicArn=topic_arn("ledger.fifo"))["Attributes"]
    assert ft["FifoTopic"] == "true" and ft["ContentBasedDeduplication"] == "true"

    # The subscriptions work: the filter lets orders through, raw, to `orders`.
    sns.publish(
        TopicArn=topic_arn("new-orders"),
        Message='{"total": 5}',
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}},
    )
    sns.publish(
        TopicArn=topic_arn("new-orders"),
        Message='{"total": 500}',
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "refund"}},
    )
    got = receive_all(sqs, url_of(sqs, "orders"), expect=1, timeout=15, WaitTimeSeconds=5)
    assert [m["Body"] for m in got] == ['{"total": 5}']
    audit = receive_all(sqs, url_of(sqs, "audit"), expect=1, timeout=15)
    assert [json.loads(m["Body"])["Message"] for m in audit] == ['{"total": 500}']


def test_restarting_with_the_same_file_changes_nothing(declared, wire):
    sqs, sns = declared.start(FULL)
    before_subs = {
        s["SubscriptionArn"]
        for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn("new-orders"))["Subscriptions"]
    }
    before = {q: attrs(sqs, url_of(sqs, q)) for q in ["orders", "ledger.fifo", "audit"]}
    sqs.send_message(QueueUrl=url_of(sqs, "orders"), MessageBody="kept", DelaySeconds=0)
    declared.stop()
    # LastModifiedTimestamp has one-second resolution: an update would show.
    time.sleep(1.2)

    sqs, sns = declared.start(FULL)
    after_subs = {
        s["SubscriptionArn"]
        for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn("new-orders"))["Subscriptions"]
    }
    assert after_subs == before_subs
    for q, a in before.items():
        now = attrs(sqs, url_of(sqs, q))
        for k in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                  "ApproximateNumberOfMessagesDelayed"):
            a.pop(k), now.pop(k)
        assert now == a, q
    assert len(sqs.list_queues(QueueNamePrefix="orders")["QueueUrls"]) == 2
    got = receive_all(sqs, url_of(sqs, "orders"), expect=1, timeout=10)
    assert [m["Body"] for m in got] == ["kept"]
    log = declared.server.stderr_tail(100_000)
    assert "created from lull.toml" not in log and "updated to match lull.toml" not in log, log


def test_a_changed_file_updates_in_place(declared, wire):
    sqs, sns = declared.start(FULL)
    sub_arns = {
        s["Endpoint"]: s["SubscriptionArn"]
        for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn("new-orders"))["Subscriptions"]
    }
    sqs.send_message(QueueUrl=url_of(sqs, "orders"), MessageBody="survives the update")
    declared.stop()

    changed = (
        FULL.replace('visibility_timeout = "45s"', 'visibility_timeout = "2m"')
        .replace('dead_letter = { queue = "orders-dlq", max_receives = 4 }\n', "")
        .replace('delay = "2s"\n', "")
        .replace('tags = { team = "checkout", env = "dev" }', 'tags = { team = "payments" }')
        .replace('DisplayName = "New orders"', 'DisplayName = "Orders"')
        .replace(
            '{ queue = "orders", raw = true, filter_policy = { kind = ["order"] } }',
            '{ queue = "orders", raw = false }',
        )
        .replace(
            """filter_policy = '{"total": [{"numeric": [">", 100]}]}', filter_scope = "MessageBody" }""",
            """raw = true, filter_policy = { kind = ["refund"] } }""",
        )
        .replace('timeout = "10s"', 'timeout = "20s"')
    )
    sqs, sns = declared.start(changed)
    url = url_of(sqs, "orders")
    a = attrs(sqs, url)
    assert a["VisibilityTimeout"] == "120"
    assert a["DelaySeconds"] == "0", "an attribute no longer declared takes its default"
    assert "RedrivePolicy" not in a, "dead_letter removed: no redrive policy"
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "payments"}
    t = sns.get_topic_attributes(TopicArn=topic_arn("new-orders"))["Attributes"]
    assert t["DisplayName"] == "Orders"
    # Same subscriptions (same ARNs), new attributes.
    now = {
        s["Endpoint"]: s["SubscriptionArn"]
        for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn("new-orders"))["Subscriptions"]
    }
    assert now == sub_arns
    subs = subscriptions(sns, "new-orders")
    assert subs[queue_arn("orders")]["RawMessageDelivery"] == "false"
    assert "FilterPolicy" not in subs[queue_arn("orders")]
    assert subs[queue_arn("audit")]["RawMessageDelivery"] == "true"
    assert json.loads(subs[queue_arn("audit")]["FilterPolicy"]) == {"kind": ["refund"]}
    assert subs[queue_arn("audit")].get("FilterPolicyScope", "MessageAttributes") == "MessageAttributes"
    assert attrs(sqs, url_of(sqs, "lull-function-register"))["VisibilityTimeout"] == "25"
    # Updating is not re-creating: the message is still there.
    got = receive_all(sqs, url, expect=1, timeout=10)
    assert [m["Body"] for m in got] == ["survives the update"]


def test_mistakes_in_the_file_stop_the_start_naming_file_and_key(declared, wire):
    err = declared.refused(
        """
[queues.jobs]
visibility_timeout = "forever"
dead_letter = { queue = "jobs-dlq.fifo", max_receives = 3 }

[queues."jobs-dlq.fifo"]

[topics.news]
subscriptions = [{ queue = "jobs", raw = "yes" }]

[functions.worker]
queue = "jobs"
command = ["true"]
batch_size = 20000
"""
    )
    config = str(declared.config)
    assert config in err, err
    # A type error in TOML stops the parse; the rest is reported once it parses.
    assert "raw" in err, err
    err = declared.refused(
        """
[queues.jobs]
visibility_timeout = "forever"
dead_letter = { queue = "jobs-dlq.fifo", max_receives = 3 }

[queues."jobs-dlq.fifo"]

[functions.worker]
queue = "jobs"
command = ["true"]
batch_size = 20000
"""
    )
    assert config in err, err
    for key in [
        "queues.jobs.visibility_timeout: expected a duration",
        'queues.jobs.dead_letter.queue: "jobs-dlq.fifo" is a FIFO queue',
        "functions.worker.batch_size: expected 1 to 10000, got 20000",
    ]:
        assert key in err, err
    err = declared.refused("[queues.jobs]\nvisiblity_timeout = \"1s\"\n")
    assert config in err and "visiblity_timeout" in err, err


def test_references_to_missing_or_mismatched_queues_stop_the_start(declared, wire):
    # First start: a FIFO queue exists in the store, not declared later.
    sqs, _ = declared.start('[queues."existing.fifo"]\n')
    declared.stop()
    err = declared.refused(
        """
[queues.fresh]

[queues.jobs]
dead_letter = { queue = "existing.fifo", max_receives = 3 }

[queues.other]
dead_letter = { queue = "nowhere", max_receives = 3 }

[topics.news]
subscriptions = [{ queue = "ghost" }]

[functions.worker]
queue = "missing"
url = "http://127.0.0.1:9/"
"""
    )
    assert str(declared.config) in err, err
    for expected in [
        'queues.jobs.dead_letter.queue: "existing.fifo" is a FIFO queue; a dead-letter queue must be of the same type',
        'queues.other.dead_letter.queue: queue "nowhere" is neither declared in [queues] nor an existing queue in us-east-1',
        'topics.news.subscriptions[0].queue: queue "ghost" is neither declared',
        'functions.worker.queue: queue "missing" is neither declared',
    ]:
        assert expected in err, err
    # Nothing was created by the refused start.
    sqs, sns = declared.start('[queues."existing.fifo"]\n')
    names = [u.rsplit("/", 1)[-1] for u in sqs.list_queues().get("QueueUrls", [])]
    assert names == ["existing.fifo"]
    assert sns.list_topics()["Topics"] == []
    with raises_code("AWS.SimpleQueueService.NonExistentQueue"):
        sqs.get_queue_url(QueueName="fresh")


def test_an_existing_queue_may_be_a_reference_without_being_declared(declared, wire):
    sqs, _ = declared.start("")
    sqs.create_queue(QueueName="made-by-hand-dlq")
    sqs.create_queue(QueueName="made-by-hand")
    declared.stop()
    sqs, sns = declared.start(
        """
[queues.jobs]
dead_letter = { queue = "made-by-hand-dlq", max_receives = 2 }

[topics.news]
subscriptions = [{ queue = "made-by-hand", raw = true }]
"""
    )
    a = attrs(sqs, url_of(sqs, "jobs"))
    assert json.loads(a["RedrivePolicy"])["deadLetterTargetArn"] == queue_arn("made-by-hand-dlq")
    sns.publish(TopicArn=topic_arn("news"), Message="hello")
    got = receive_all(sqs, url_of(sqs, "made-by-hand"), expect=1, timeout=10)
    assert [m["Body"] for m in got] == ["hello"]
