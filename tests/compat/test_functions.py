"""Functions (the Lambda pattern) against the real binary: a queue bound to an HTTP endpoint
or a command in lull.toml gets Lambda's SQS event, batched by batch_size within
batching_window; partial batch failures keep only the named items, which the queue's redrive
policy dead-letters after max_receives (on FIFO queues everything after the first failure stays
too); crashes, non-2xx answers, timeouts and garbage answers fail the batch; a topic's
`function` subscription invokes the function with the SNS event.

Handlers are real: a Python HTTP server on an ephemeral port, and python3 scripts.
Each test runs its own servers, so these tests are skipped with LULL_COMPAT_ENDPOINT.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from compat_util import ACCOUNT, REGION, attrs, queue_arn, receive_all
from conftest import make_client


def make_sns(endpoint: str):
    return boto3.client(
        "sns",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="AKIDLULLTEST",
        aws_secret_access_key="lull-test-secret",
        config=Config(region_name=REGION, retries={"max_attempts": 1, "mode": "standard"}),
    )


class Handler:
    """An HTTP function: records every event it gets; `answer(event)` -> (status, body)."""

    def __init__(self, answer=None):
        self.events: list[dict] = []
        self.lock = threading.Lock()
        self.answer = answer or (lambda event: (200, ""))
        handler = self

        class Request(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                event = json.loads(self.rfile.read(length))
                with handler.lock:
                    handler.events.append(event)
                status, body = handler.answer(event)
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Request)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/invoke"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def records(self) -> list[dict]:
        with self.lock:
            return [r for e in self.events for r in e["Records"]]

    def wait_for(self, predicate, timeout: float = 20.0, what: str = "events"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(list(self.events)):
                    return list(self.events)
            time.sleep(0.05)
        with self.lock:
            raise AssertionError(f"timed out waiting for {what}; got {self.events!r}")

    def close(self):
        self.server.shutdown()


@pytest.fixture
def handlers():
    made: list[Handler] = []

    def make(answer=None) -> Handler:
        h = Handler(answer)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


@pytest.fixture
def start(server_factory, tmp_path):
    """start(toml, data=None) -> (sqs, server): lull with that lull.toml."""
    count = [0]

    def run(text: str, data: Path | None = None):
        count[0] += 1
        config = tmp_path / f"lull-{count[0]}.toml"
        config.write_text(text)
        server = server_factory(data or tmp_path / "data", ["--config", str(config)])
        return make_client(server.endpoint), server

    return run


def url_of(sqs, name):
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]


def depth(sqs, url) -> int:
    a = attrs(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])


def wait_until(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# ---------------------------------------------------------------- the event


def test_an_http_function_gets_lambdas_sqs_event(start, handlers, wire):
    h = handlers()
    sqs, _ = start(
        f"""
[queues.NewClientFunctionSQS]
[functions.register-customer]
queue = "NewClientFunctionSQS"
url = "{h.url}"
"""
    )
    url = url_of(sqs, "NewClientFunctionSQS")
    body = '{\n  "name_costumer": "Leonardo",\n  "email": "leonardo@example.com"\n}'
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody=body,
        MessageAttributes={
            "source": {"DataType": "String", "StringValue": "signup"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x01\x02\x03"},
        },
    )
    events = h.wait_for(lambda ev: len(ev) >= 1)
    assert set(events[0]) == {"Records"}
    (record,) = events[0]["Records"]
    assert set(record) == {
        "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
        "md5OfMessageAttributes", "eventSource", "eventSourceARN", "awsRegion",
    }
    assert record["messageId"] == sent["MessageId"]
    assert record["body"] == body
    assert record["md5OfBody"] == hashlib.md5(body.encode()).hexdigest()
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue_arn("NewClientFunctionSQS")
    assert record["awsRegion"] == REGION
    assert record["receiptHandle"]
    a = record["attributes"]
    assert set(a) == {
        "ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
    }
    assert a["ApproximateReceiveCount"] == "1"
    assert abs(int(a["SentTimestamp"]) - time.time() * 1000) < 60_000
    assert int(a["ApproximateFirstReceiveTimestamp"]) >= int(a["SentTimestamp"])
    assert record["messageAttributes"] == {
        "source": {
            "stringValue": "signup", "stringListValues": [], "binaryListValues": [],
            "dataType": "String",
        },
        "blob": {
            "binaryValue": "AQID", "stringListValues": [], "binaryListValues": [],
            "dataType": "Binary",
        },
    }
    # Success deleted it.
    wait_until(lambda: depth(sqs, url) == 0, what="the message to be deleted")


def test_fifo_records_carry_group_deduplication_and_sequence(start, handlers, wire):
    h = handlers()
    sqs, _ = start(
        f"""
[queues."events.fifo"]
content_based_deduplication = true
[functions.f]
queue = "events.fifo"
url = "{h.url}"
"""
    )
    url = url_of(sqs, "events.fifo")
    sent = [
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g1")
        for i in range(3)
    ]
    h.wait_for(lambda ev: sum(len(e["Records"]) for e in ev) >= 3)
    records = h.records()
    assert [r["body"] for r in records] == ["m0", "m1", "m2"]
    for r, s in zip(records, sent):
        assert r["attributes"]["MessageGroupId"] == "g1"
        assert r["attributes"]["SequenceNumber"] == s["SequenceNumber"]
        assert r["attributes"]["MessageDeduplicationId"] == hashlib.sha256(r["body"].encode()).hexdigest()


# ---------------------------------------------------------------- batching


def test_batch_size_and_batching_window(start, handlers, tmp_path, wire):
    small, big = handlers(), handlers()
    queues = """
[queues.small]
[queues.big]
"""
    data = tmp_path / "batching"
    # Messages wait in the queues before the functions exist, so batches are predictable.
    sqs, server = start(queues, data)
    for q in ("small", "big"):
        url = url_of(sqs, q)
        for base in (0, 10):
            sqs.send_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "MessageBody": f"{q}-{base + i}"} for i in range(10 if base == 0 else 2)],
            )
    assert server.stop() == 0
    sqs, _ = start(
        queues
        + f"""
[functions.by-five]
queue = "small"
url = "{small.url}"
batch_size = 5
batching_window = "2s"

[functions.all-at-once]
queue = "big"
url = "{big.url}"
batch_size = 25
batching_window = "1500ms"
""",
        data,
    )
    small.wait_for(lambda ev: sum(len(e["Records"]) for e in ev) >= 12)
    big.wait_for(lambda ev: sum(len(e["Records"]) for e in ev) >= 12)
    assert sorted(len(e["Records"]) for e in small.events) == [2, 5, 5]
    # More than one ReceiveMessage (10 at most) went into one invocation.
    assert [len(e["Records"]) for e in big.events] == [12]
    bodies = sorted(r["body"] for r in big.records())
    assert bodies == sorted(f"big-{i}" for i in range(12))


def test_without_a_window_each_receive_is_a_batch(start, handlers, wire):
    h = handlers()
    sqs, _ = start(
        f"""
[queues.q]
[functions.f]
queue = "q"
url = "{h.url}"
batch_size = 3
"""
    )
    url = url_of(sqs, "q")
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(7)]
    )
    h.wait_for(lambda ev: sum(len(e["Records"]) for e in ev) >= 7)
    assert all(1 <= len(e["Records"]) <= 3 for e in h.events)


# ---------------------------------------------------------------- failures


def test_partial_batch_failures_return_only_the_named_items_then_dead_letter(start, handlers, wire):
    def answer(event):
        bad = [r["messageId"] for r in event["Records"] if r["body"].startswith("bad")]
        return 200, {"batchItemFailures": [{"itemIdentifier": i} for i in bad]}

    h = handlers(answer)
    sqs, _ = start(
        f"""
[queues.jobs]
visibility_timeout = "1s"
dead_letter = {{ queue = "jobs-dlq", max_receives = 2 }}
[queues.jobs-dlq]
[functions.worker]
queue = "jobs"
url = "{h.url}"
batch_size = 10
batching_window = "500ms"
report_batch_item_failures = true
"""
    )
    url = url_of(sqs, "jobs")
    bodies = ["good-1", "bad-1", "good-2", "bad-2", "good-3"]
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)]
    )
    dlq = receive_all(sqs, url_of(sqs, "jobs-dlq"), expect=2, timeout=30, WaitTimeSeconds=2)
    assert sorted(m["Body"] for m in dlq) == ["bad-1", "bad-2"]
    wait_until(lambda: depth(sqs, url) == 0, what="the source queue to empty")
    seen: dict[str, int] = {}
    for r in h.records():
        seen[r["body"]] = seen.get(r["body"], 0) + 1
    assert seen == {"good-1": 1, "good-2": 1, "good-3": 1, "bad-1": 2, "bad-2": 2}
    counts = sorted(
        r["attributes"]["ApproximateReceiveCount"] for r in h.records() if r["body"] == "bad-1"
    )
    assert counts == ["1", "2"]


def test_on_fifo_queues_everything_after_the_first_failure_stays(start, handlers, wire):
    failed_once = set()

    def answer(event):
        # Fail m1 the first time it is seen, naming only m1.
        for r in event["Records"]:
            if r["body"] == "m1" and "m1" not in failed_once:
                failed_once.add("m1")
                return 200, {"batchItemFailures": [{"itemIdentifier": r["messageId"]}]}
        return 200, {"batchItemFailures": []}

    h = handlers(answer)
    sqs, _ = start(
        f"""
[queues."steps.fifo"]
visibility_timeout = "1s"
content_based_deduplication = true
[functions.f]
queue = "steps.fifo"
url = "{h.url}"
report_batch_item_failures = true
"""
    )
    url = url_of(sqs, "steps.fifo")
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "MessageBody": f"m{i}", "MessageGroupId": "g"} for i in range(3)],
    )
    h.wait_for(lambda ev: len(ev) >= 2, timeout=20)
    first, second = h.events[0]["Records"], h.events[1]["Records"]
    assert [r["body"] for r in first] == ["m0", "m1", "m2"]
    # m0 was deleted; m1 failed and m2 came after it: both come back, in order.
    assert [r["body"] for r in second] == ["m1", "m2"]
    assert [r["attributes"]["ApproximateReceiveCount"] for r in second] == ["2", "2"]
    wait_until(lambda: depth(sqs, url) == 0, what="the FIFO queue to empty")


@pytest.mark.parametrize(
    "failure",
    ["status-500", "garbage", "unknown-item", "timeout"],
)
def test_failed_invocations_leave_the_whole_batch(start, handlers, failure, wire):
    calls = []

    def answer(event):
        calls.append(event)
        if len(calls) > 1:
            return 200, {"batchItemFailures": []}
        if failure == "status-500":
            return 500, "internal error"
        if failure == "garbage":
            return 200, "<html>not json</html>"
        if failure == "unknown-item":
            return 200, {"batchItemFailures": [{"itemIdentifier": "no-such-message"}]}
        time.sleep(3)
        return 200, ""

    h = handlers(answer)
    sqs, _ = start(
        f"""
[queues.q]
visibility_timeout = "2s"
[functions.f]
queue = "q"
url = "{h.url}"
timeout = "1s"
report_batch_item_failures = true
batching_window = "300ms"
"""
    )
    url = url_of(sqs, "q")
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"b{i}"} for i in range(3)]
    )
    h.wait_for(lambda ev: sum(len(e["Records"]) for e in ev[1:]) >= 3, timeout=30, what="redelivery")
    first = sorted(r["body"] for r in h.events[0]["Records"])
    assert first == ["b0", "b1", "b2"]
    again = [r for e in h.events[1:] for r in e["Records"]]
    assert sorted(r["body"] for r in again) == ["b0", "b1", "b2"]
    assert {r["attributes"]["ApproximateReceiveCount"] for r in again} == {"2"}
    wait_until(lambda: depth(sqs, url) == 0, what="the queue to empty")


# ---------------------------------------------------------------- commands


HANDLER = r'''
import json, os, sys
event = json.load(sys.stdin)
with open(os.environ["SEEN"], "a") as f:
    for r in event["Records"]:
        f.write(json.dumps({"body": r["body"], "source": r["eventSourceARN"],
                            "count": r["attributes"]["ApproximateReceiveCount"]}) + "\n")
print("a log line on stderr", file=sys.stderr)
json.dump({"batchItemFailures": [{"itemIdentifier": r["messageId"]}
                                 for r in event["Records"] if r["body"] == "poison"]}, sys.stdout)
'''


def test_a_command_function_gets_the_event_on_stdin_and_answers_on_stdout(start, tmp_path, wire):
    script = tmp_path / "handler.py"
    script.write_text(HANDLER)
    seen = tmp_path / "seen.jsonl"
    sqs, _ = start(
        f"""
[queues.q]
visibility_timeout = "1s"
dead_letter = {{ queue = "q-dlq", max_receives = 2 }}
[queues.q-dlq]
[functions.cmd]
queue = "q"
command = ["{sys.executable}", "{script}"]
environment = {{ SEEN = "{seen}" }}
report_batch_item_failures = true
batching_window = "300ms"
"""
    )
    url = url_of(sqs, "q")
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(["one", "poison", "two"])],
    )
    dlq = receive_all(sqs, url_of(sqs, "q-dlq"), expect=1, timeout=30, WaitTimeSeconds=2)
    assert [m["Body"] for m in dlq] == ["poison"]
    wait_until(lambda: depth(sqs, url) == 0, what="the queue to empty")
    lines = [json.loads(l) for l in seen.read_text().splitlines()]
    assert sorted(l["body"] for l in lines) == ["one", "poison", "poison", "two"]
    assert {l["source"] for l in lines} == {queue_arn("q")}


def test_crashing_and_hanging_commands_fail_and_dead_letter(start, tmp_path, wire):
    crash = tmp_path / "crash.py"
    crash.write_text("import sys; sys.stdin.read(); raise SystemExit('boom')\n")
    hang = tmp_path / "hang.py"
    hang.write_text("import time; time.sleep(60)\n")
    sqs, server = start(
        f"""
[queues.a]
visibility_timeout = "1s"
dead_letter = {{ queue = "dlq", max_receives = 2 }}
[queues.b]
visibility_timeout = "1s"
dead_letter = {{ queue = "dlq", max_receives = 2 }}
[queues.dlq]
[functions.crashes]
queue = "a"
command = ["{sys.executable}", "{crash}"]
[functions.hangs]
queue = "b"
command = ["{sys.executable}", "{hang}"]
timeout = "1s"
"""
    )
    sqs.send_message(QueueUrl=url_of(sqs, "a"), MessageBody="to-crash")
    sqs.send_message(QueueUrl=url_of(sqs, "b"), MessageBody="to-hang")
    dlq = receive_all(sqs, url_of(sqs, "dlq"), expect=2, timeout=40, WaitTimeSeconds=2)
    assert sorted(m["Body"] for m in dlq) == ["to-crash", "to-hang"]
    log = server.stderr_tail(200_000)
    assert "boom" in log, log
    assert "killed" in log, log


# ---------------------------------------------------------------- SNS lambda subscriptions


def test_a_topic_invokes_a_function_with_the_sns_event(start, handlers, wire):
    h = handlers()
    sqs, server = start(
        f"""
[topics.NewClientNotification]
subscriptions = [{{ function = "notify" }}]
[functions.notify]
url = "{h.url}"
"""
    )
    sns = make_sns(server.endpoint)
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:NewClientNotification"
    sns.publish(
        TopicArn=topic,
        Message='{"name": "Leonardo"}',
        Subject="new client",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "signup"}},
    )
    sns.publish(TopicArn=topic, Message="second")
    events = h.wait_for(lambda ev: len(ev) >= 2)
    # One record per invocation, as SNS invokes Lambda.
    assert [len(e["Records"]) for e in events] == [1, 1]
    record = next(e["Records"][0] for e in events if e["Records"][0]["Sns"]["Message"] != "second")
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    sub = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0]["SubscriptionArn"]
    assert record["EventSubscriptionArn"] == sub
    s = record["Sns"]
    assert s["Type"] == "Notification"
    assert s["TopicArn"] == topic
    assert s["Message"] == '{"name": "Leonardo"}'
    assert s["Subject"] == "new client"
    assert s["MessageAttributes"] == {"kind": {"Type": "String", "Value": "signup"}}
    assert s["MessageId"] and s["Signature"] and s["Timestamp"]
    # Delivered and done: the invoke queue is empty.
    wait_until(lambda: depth(sqs, url_of(sqs, "lull-function-notify")) == 0, what="the invoke queue to empty")
