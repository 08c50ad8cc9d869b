"""SNS delivery beyond SQS, against the real binary: HTTP subscribers (the confirmation
handshake, signed notifications verified with the served certificate for both signature
versions, raw delivery, filter policies, retries per DeliveryPolicy ending in the
subscription's dead-letter queue, deliveries that outlive a kill -9), Lambda subscriptions
(an SNS event record on the function's invoke queue), AddPermission/RemovePermission with
boto3 and aws-cli, and bad input. The subscriber is a Python http.server on an ephemeral port.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from compat_util import ACCOUNT, REGION, queue_arn, raises_code, receive_all, unique
from sns_verify import verify
from test_sns import make_sns


@dataclass
class Delivery:
    kind: str
    headers: dict
    body: str
    status: int
    at: float

    def doc(self) -> dict:
        return json.loads(self.body)


class Subscriber:
    """An HTTP endpoint that records every POST and answers with `status_for(kind)`."""

    def __init__(self):
        self.deliveries: queue.Queue[Delivery] = queue.Queue()
        self.notification_status = 200
        self.confirmation_status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode("utf-8")
                kind = self.headers.get("x-amz-sns-message-type", "")
                status = (
                    outer.confirmation_status
                    if kind == "SubscriptionConfirmation"
                    else outer.notification_status
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.deliveries.put(Delivery(kind, headers, body, status, time.monotonic()))

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self, kind: str | None = None, timeout: float = 20.0) -> Delivery:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind or 'delivery'} within {timeout}s")
            try:
                d = self.deliveries.get(timeout=left)
            except queue.Empty:
                continue
            if kind is None or d.kind == kind:
                return d

    def quiet(self, seconds: float) -> list[Delivery]:
        """Whatever arrives within `seconds`."""
        got = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                got.append(self.deliveries.get(timeout=left))
            except queue.Empty:
                break
        return got

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def subscriber():
    s = Subscriber()
    yield s
    s.close()


@pytest.fixture(scope="module")
def sns(endpoint):
    return make_sns(endpoint)


@pytest.fixture(scope="module")
def sns_raw(endpoint):
    return make_sns(endpoint, validate=False)


@pytest.fixture
def make_topic(sns):
    created: list[str] = []

    def create(prefix: str = "h", **attributes) -> str:
        kw = {"Attributes": attributes} if attributes else {}
        arn = sns.create_topic(Name=unique(prefix), **kw)["TopicArn"]
        created.append(arn)
        return arn

    yield create
    for arn in created:
        sns.delete_topic(TopicArn=arn)


def confirm(sns, topic_arn: str, subscriber: Subscriber, **attributes) -> str:
    """Subscribes the endpoint, follows its SubscribeURL, answers the subscription ARN."""
    kw = {"Attributes": attributes} if attributes else {}
    got = sns.subscribe(TopicArn=topic_arn, Protocol="http", Endpoint=subscriber.url, **kw)
    assert got["SubscriptionArn"] == "pending confirmation"
    doc = subscriber.next("SubscriptionConfirmation").doc()
    r = requests.get(doc["SubscribeURL"], timeout=10)
    assert r.status_code == 200, r.text
    assert "<ConfirmSubscriptionResponse" in r.text
    arn = r.text.split("<SubscriptionArn>")[1].split("</SubscriptionArn>")[0]
    assert arn.startswith(topic_arn + ":")
    return arn


# ---------------------------------------------------------------- handshake and signatures


@pytest.mark.parametrize("version", ["1", "2"])
def test_confirmation_then_signed_notifications(sns, make_topic, subscriber, endpoint, version, wire):
    topic = make_topic(SignatureVersion=version)
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=subscriber.url)
    c = subscriber.next("SubscriptionConfirmation")
    assert c.headers["x-amz-sns-topic-arn"] == topic
    assert c.headers["content-type"] == "text/plain; charset=UTF-8"
    assert "x-amz-sns-subscription-arn" not in c.headers
    doc = c.doc()
    assert doc["Type"] == "SubscriptionConfirmation"
    assert doc["MessageId"] == c.headers["x-amz-sns-message-id"]
    assert doc["TopicArn"] == topic
    assert doc["SignatureVersion"] == version
    assert doc["SigningCertURL"].startswith(endpoint)
    verify(doc)
    url = urlparse(doc["SubscribeURL"])
    assert parse_qs(url.query)["Token"] == [doc["Token"]]
    # Pending: nothing is delivered yet.
    sns.publish(TopicArn=topic, Message="before")
    pending = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in pending] == ["PendingConfirmation"]

    r = requests.get(doc["SubscribeURL"], timeout=10)
    assert r.status_code == 200 and "<ConfirmSubscriptionResult>" in r.text
    sub = r.text.split("<SubscriptionArn>")[1].split("</SubscriptionArn>")[0]
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == [sub]
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["PendingConfirmation"] == "false"

    sent = sns.publish(
        TopicArn=topic,
        Message="olá, hooks",
        Subject="hi",
        MessageAttributes={"color": {"DataType": "String", "StringValue": "red"}},
    )
    n = subscriber.next("Notification")
    assert n.headers["x-amz-sns-message-id"] == sent["MessageId"]
    assert n.headers["x-amz-sns-subscription-arn"] == sub
    assert n.headers["x-amz-sns-topic-arn"] == topic
    assert n.headers["content-type"] == "text/plain; charset=UTF-8"
    assert n.headers["user-agent"] == "Amazon Simple Notification Service Agent"
    note = n.doc()
    assert (note["Message"], note["Subject"], note["MessageId"]) == ("olá, hooks", "hi", sent["MessageId"])
    assert note["MessageAttributes"] == {"color": {"Type": "String", "Value": "red"}}
    assert note["SignatureVersion"] == version
    verify(note)
    tampered = dict(note, Message="something else")
    with pytest.raises(Exception):
        verify(tampered)
    # "before" was published while pending: it never comes.
    assert not [d for d in subscriber.quiet(1.0) if d.kind == "Notification"]

    # The unsubscribe link works without signing.
    r = requests.get(note["UnsubscribeURL"], timeout=10)
    assert r.status_code == 200 and "<UnsubscribeResponse" in r.text
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    sns.publish(TopicArn=topic, Message="after")
    assert subscriber.quiet(1.5) == []


def test_confirm_subscription_with_the_api(sns, make_topic, subscriber, endpoint, wire):
    topic = make_topic()
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=subscriber.url)
    token = subscriber.next("SubscriptionConfirmation").doc()["Token"]
    with raises_code("InvalidParameter"):
        sns.confirm_subscription(TopicArn=topic, Token="not-the-token")
    got = sns.confirm_subscription(TopicArn=topic, Token=token, AuthenticateOnUnsubscribe="true")
    sub = got["SubscriptionArn"]
    assert sub.startswith(topic + ":")
    # Confirming again answers the same subscription.
    assert sns.confirm_subscription(TopicArn=topic, Token=token)["SubscriptionArn"] == sub
    sns.publish(TopicArn=topic, Message="m")
    note = subscriber.next("Notification").doc()
    # Confirmed with AuthenticateOnUnsubscribe: the unsigned link is refused...
    r = requests.get(note["UnsubscribeURL"], timeout=10)
    assert r.status_code == 403 and "<Code>AuthorizationError</Code>" in r.text
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["Endpoint"] == subscriber.url
    # ...a signed Unsubscribe works.
    sns.unsubscribe(SubscriptionArn=sub)
    with raises_code("NotFound"):
        sns.get_subscription_attributes(SubscriptionArn=sub)


def test_the_certificate_is_served(sns, make_topic, subscriber, endpoint, wire):
    from cryptography import x509

    r = requests.get(f"{endpoint}/sns/SimpleNotificationService.pem", timeout=10)
    assert r.status_code == 200
    cert = x509.load_pem_x509_certificate(r.content)
    assert cert.public_key().key_size == 2048
    # Every message points at that same certificate.
    topic = make_topic()
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=subscriber.url)
    doc = subscriber.next("SubscriptionConfirmation").doc()
    assert requests.get(doc["SigningCertURL"], timeout=10).content == r.content


# ---------------------------------------------------------------- raw delivery and filters


def test_raw_delivery_and_filter_policy(sns, make_topic, subscriber, wire):
    topic = make_topic()
    sub = confirm(
        sns,
        topic,
        subscriber,
        RawMessageDelivery="true",
        FilterPolicy=json.dumps({"kind": ["order"]}),
    )
    sns.publish(
        TopicArn=topic,
        Message="skipped",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "refund"}},
    )
    sns.publish(
        TopicArn=topic,
        Message='{"order": 7}',
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}},
    )
    n = subscriber.next("Notification")
    assert n.body == '{"order": 7}'
    assert n.headers["x-amz-sns-rawdelivery"] == "true"
    assert n.headers["x-amz-sns-subscription-arn"] == sub
    assert subscriber.quiet(1.0) == []

    # A body-scoped policy on a JSON-structured message: http gets its own text.
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicyScope", AttributeValue="MessageBody")
    sns.set_subscription_attributes(
        SubscriptionArn=sub, AttributeName="FilterPolicy", AttributeValue=json.dumps({"order": [{"numeric": [">", 5]}]})
    )
    sns.publish(TopicArn=topic, Message='{"order": 3}')
    sns.publish(
        TopicArn=topic,
        MessageStructure="json",
        Message=json.dumps({"default": '{"order": 1}', "http": '{"order": 9}'}),
    )
    assert subscriber.next("Notification").body == '{"order": 9}'
    assert subscriber.quiet(1.0) == []


# ---------------------------------------------------------------- retries and dead letters


def test_failing_endpoint_is_retried_per_policy_then_dead_lettered(sns, sqs, make_topic, make_queue, subscriber, wire):
    topic = make_topic()
    dlq_url, dlq_name = make_queue("sns-dlq")
    policy = {
        "healthyRetryPolicy": {
            "numRetries": 3,
            "numNoDelayRetries": 1,
            "numMinDelayRetries": 1,
            "minDelayTarget": 1,
            "maxDelayTarget": 2,
            "backoffFunction": "linear",
        }
    }
    sub = confirm(
        sns,
        topic,
        subscriber,
        DeliveryPolicy=json.dumps(policy),
        RedrivePolicy=json.dumps({"deadLetterTargetArn": queue_arn(dlq_name)}),
    )
    effective = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["EffectiveDeliveryPolicy"]
    assert json.loads(effective)["healthyRetryPolicy"]["numRetries"] == 3
    subscriber.notification_status = 500
    sent = sns.publish(TopicArn=topic, Message="never accepted")
    attempts = [subscriber.next("Notification", timeout=30) for _ in range(4)]
    assert {a.headers["x-amz-sns-message-id"] for a in attempts} == {sent["MessageId"]}
    gaps = [b.at - a.at for a, b in zip(attempts, attempts[1:])]
    # No delay, then the least delay (1 s), then the backoff phase reaching 2 s.
    assert gaps[0] < 0.9, gaps
    assert 0.9 <= gaps[1] < 3.5, gaps
    assert 1.9 <= gaps[2] < 4.5, gaps
    dead = receive_all(sqs, dlq_url, expect=1, timeout=15)
    assert len(dead) == 1
    doc = json.loads(dead[0]["Body"])
    assert doc["MessageId"] == sent["MessageId"] and doc["Message"] == "never accepted"
    verify(doc)
    # Spent: no further attempts.
    assert subscriber.quiet(2.5) == []


def test_throttle_policy_spaces_deliveries(sns, make_topic, subscriber, wire):
    topic = make_topic()
    confirm(
        sns,
        topic,
        subscriber,
        RawMessageDelivery="true",
        DeliveryPolicy=json.dumps({"throttlePolicy": {"maxReceivesPerSecond": 4}}),
    )
    for i in range(5):
        sns.publish(TopicArn=topic, Message=f"m{i}")
    got = [subscriber.next("Notification") for _ in range(5)]
    assert sorted(d.body for d in got) == [f"m{i}" for i in range(5)]
    arrivals = sorted(d.at for d in got)
    # Four a second: five deliveries span at least a second.
    assert arrivals[-1] - arrivals[0] >= 0.9, arrivals


def test_delivery_policy_is_validated(sns, make_topic, subscriber, wire):
    topic = make_topic()
    sub = confirm(sns, topic, subscriber)
    for bad in [
        {"healthyRetryPolicy": {"numRetries": 101}},
        {"healthyRetryPolicy": {"minDelayTarget": 30, "maxDelayTarget": 10}},
        {"healthyRetryPolicy": {"backoffFunction": "cubic"}},
        {"throttlePolicy": {"maxReceivesPerSecond": 0}},
    ]:
        with raises_code("InvalidParameter"):
            sns.set_subscription_attributes(
                SubscriptionArn=sub, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(bad)
            )
    with raises_code("InvalidParameter"):
        sns.set_topic_attributes(
            TopicArn=topic,
            AttributeName="DeliveryPolicy",
            AttributeValue=json.dumps({"http": {"defaultHealthyRetryPolicy": {"numRetries": 500}}}),
        )
    good = {"http": {"defaultHealthyRetryPolicy": {"numRetries": 5, "minDelayTarget": 2, "maxDelayTarget": 9}}}
    sns.set_topic_attributes(TopicArn=topic, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(good))
    a = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert json.loads(a["EffectiveDeliveryPolicy"]) == good
    assert "DeliveryPolicy" not in sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]


def test_a_pending_delivery_survives_kill_9(server_factory, tmp_path, subscriber, wire):
    data = tmp_path / "data"
    srv = server_factory(data)
    sns = make_sns(srv.endpoint)
    topic = sns.create_topic(Name=unique("k9"))["TopicArn"]
    sub = confirm(
        sns,
        topic,
        subscriber,
        DeliveryPolicy=json.dumps({"healthyRetryPolicy": {"numRetries": 5, "minDelayTarget": 1, "maxDelayTarget": 1}}),
    )
    subscriber.notification_status = 503
    sent = sns.publish(TopicArn=topic, Message="keep me")
    first = subscriber.next("Notification")
    assert first.status == 503
    srv.kill()
    subscriber.notification_status = 200

    srv2 = server_factory(data)
    got = subscriber.next("Notification", timeout=30)
    while got.status != 200:  # a retry the first server made before it died
        got = subscriber.next("Notification", timeout=30)
    assert got.headers["x-amz-sns-message-id"] == sent["MessageId"]
    assert got.headers["x-amz-sns-subscription-arn"] == sub
    doc = got.doc()
    assert doc["Message"] == "keep me"
    # Signed with the key kept in the data directory: the new server serves the same one.
    verify(dict(doc, SigningCertURL=f"{srv2.endpoint}/sns/SimpleNotificationService.pem"))
    assert subscriber.quiet(2.0) == []


# ---------------------------------------------------------------- lambda


def test_lambda_subscription_feeds_the_function_queue(sns, sqs, make_topic, wire):
    topic = make_topic()
    name = unique("fn")
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)["SubscriptionArn"]
    assert sub.startswith(topic + ":")
    sent = sns.publish(
        TopicArn=topic,
        Message='{"name": "Ana"}',
        MessageAttributes={"source": {"DataType": "String", "StringValue": "web"}},
    )
    url = sqs.get_queue_url(QueueName=f"lull-function-{name}")["QueueUrl"]
    msgs = receive_all(sqs, url, expect=1)
    assert len(msgs) == 1
    record = json.loads(msgs[0]["Body"])
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == sub
    s = record["Sns"]
    assert (s["Type"], s["MessageId"], s["TopicArn"]) == ("Notification", sent["MessageId"], topic)
    assert s["Message"] == '{"name": "Ana"}'
    assert s["Subject"] is None
    assert s["MessageAttributes"] == {"source": {"Type": "String", "Value": "web"}}
    verify(s)
    sqs.delete_queue(QueueUrl=url)


# ---------------------------------------------------------------- permissions


def test_add_and_remove_permission(sns, make_topic, endpoint, tmp_path, wire):
    topic = make_topic()
    sns.add_permission(
        TopicArn=topic, Label="partners", AWSAccountId=["111122223333", "444455556666"], ActionName=["Publish", "Subscribe"]
    )
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    statement = next(s for s in policy["Statement"] if s.get("Sid") == "partners")
    assert statement["Effect"] == "Allow"
    assert statement["Principal"]["AWS"] == ["arn:aws:iam::111122223333:root", "arn:aws:iam::444455556666:root"]
    assert statement["Action"] == ["SNS:Publish", "SNS:Subscribe"]
    assert statement["Resource"] == topic
    # The owner's default statement stays.
    assert any(s.get("Sid") == "__default_statement_ID" for s in policy["Statement"])
    with raises_code("InvalidParameter"):
        sns.add_permission(TopicArn=topic, Label="partners", AWSAccountId=["111122223333"], ActionName=["Publish"])
    with raises_code("InvalidParameter"):
        sns.add_permission(TopicArn=topic, Label="x", AWSAccountId=["111122223333"], ActionName=["LaunchRockets"])
    with raises_code("InvalidParameter"):
        sns.add_permission(TopicArn=topic, Label="bad label!", AWSAccountId=["111122223333"], ActionName=["Publish"])
    missing = f"arn:aws:sns:{REGION}:{ACCOUNT}:{unique('missing')}"
    with raises_code("NotFound"):
        sns.add_permission(TopicArn=missing, Label="x", AWSAccountId=["111122223333"], ActionName=["Publish"])
    sns.remove_permission(TopicArn=topic, Label="partners")
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    assert [s.get("Sid") for s in policy["Statement"]] == ["__default_statement_ID"]
    with raises_code("InvalidParameter"):
        sns.remove_permission(TopicArn=topic, Label="partners")

    # The same through aws-cli.
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

    def aws(*args, ok=True):
        cmd = [sys.executable, "-m", "awscli", "--endpoint-url", endpoint, "--output", "json", "sns", *args]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert (p.returncode == 0) == ok, p.stderr
        return p

    aws("add-permission", "--topic-arn", topic, "--label", "cli", "--aws-account-id", "111122223333", "--action-name", "Publish")
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    cli = next(s for s in policy["Statement"] if s.get("Sid") == "cli")
    assert cli["Principal"]["AWS"] == "arn:aws:iam::111122223333:root"
    assert cli["Action"] == "SNS:Publish"
    aws("remove-permission", "--topic-arn", topic, "--label", "cli")
    p = aws("remove-permission", "--topic-arn", topic, "--label", "cli", ok=False)
    assert "InvalidParameter" in p.stderr


def test_data_protection_policy(sns, make_topic, wire):
    topic = make_topic()
    assert sns.get_data_protection_policy(ResourceArn=topic).get("DataProtectionPolicy", "") == ""
    doc = json.dumps({"Name": "p", "Version": "2021-06-01", "Statement": []})
    sns.put_data_protection_policy(ResourceArn=topic, DataProtectionPolicy=doc)
    assert sns.get_data_protection_policy(ResourceArn=topic)["DataProtectionPolicy"] == doc
    with raises_code("InvalidParameter"):
        sns.put_data_protection_policy(ResourceArn=topic, DataProtectionPolicy="not json")


# ---------------------------------------------------------------- bad input


def test_bad_input(sns, sns_raw, make_topic, endpoint, wire):
    topic = make_topic()
    with raises_code("InvalidParameter"):
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint="ftp://127.0.0.1/x")
    with raises_code("InvalidParameter"):
        sns.subscribe(TopicArn=topic, Protocol="https", Endpoint="http://127.0.0.1/x")
    with raises_code("InvalidParameter"):
        sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint="arn:aws:lambda:us-east-1:1:layer:x")
    with raises_code("InvalidParameter"):
        sns_raw.confirm_subscription(TopicArn=topic)
    with raises_code("InvalidParameter"):
        sns.confirm_subscription(TopicArn=topic, Token="t", AuthenticateOnUnsubscribe="maybe")
    missing = f"arn:aws:sns:{REGION}:{ACCOUNT}:{unique('missing')}"
    with raises_code("NotFound"):
        sns.confirm_subscription(TopicArn=missing, Token="t")
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    # The link path answers only its two actions.
    r = requests.get(f"{endpoint}/sns/?Action=DeleteTopic&TopicArn={topic}", timeout=10)
    assert r.status_code == 400 and "<Code>InvalidAction</Code>" in r.text
    r = requests.get(f"{endpoint}/sns/", timeout=10)
    assert r.status_code == 400 and "<Code>InvalidParameter</Code>" in r.text
    r = requests.get(f"{endpoint}/sns/?Action=ConfirmSubscription&TopicArn={topic}&Token=forged", timeout=10)
    assert r.status_code == 400 and "Invalid token" in r.text
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsConfirmed"] == "0"


def test_links_need_no_credentials_when_the_server_requires_them(server_factory, tmp_path, subscriber, wire):
    cfg = tmp_path / "lull.toml"
    cfg.write_text(
        "[[server.credentials]]\n"
        'access_key_id = "AKIDLULLTEST"\n'
        'secret_access_key = "lull-test-secret"\n'
    )
    srv = server_factory(tmp_path / "data", extra_args=["--config", str(cfg)])
    sns = make_sns(srv.endpoint)
    topic = sns.create_topic(Name=unique("auth"))["TopicArn"]
    # Unsigned API calls are refused...
    r = requests.post(srv.endpoint, data={"Action": "ListTopics"}, timeout=10)
    assert r.status_code in (400, 403)
    # ...but a subscriber follows its links without signing anything.
    sub = confirm(sns, topic, subscriber)
    sns.publish(TopicArn=topic, Message="signed")
    note = subscriber.next("Notification").doc()
    verify(note)
    assert requests.get(note["UnsubscribeURL"], timeout=10).status_code == 200
    with raises_code("NotFound"):
        sns.get_subscription_attributes(SubscriptionArn=sub)
