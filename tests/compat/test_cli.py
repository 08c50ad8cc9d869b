"""The people's tools (`lull queues | send | receive | purge | redrive`) run as a
subprocess against the live server, with boto3 setting the scene and checking the result."""

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import boto3
import pytest

REPO = Path(__file__).resolve().parents[2]


def lull_bin():
    explicit = os.environ.get("LULL_BIN")
    if explicit:
        return explicit
    for profile in ("release", "debug"):
        candidate = REPO / "target" / profile / "lull"
        if candidate.exists():
            return str(candidate)
    pytest.skip("no lull binary: build it or set LULL_BIN")


@pytest.fixture
def sqs(lull_endpoint):
    return boto3.client(
        "sqs",
        endpoint_url=lull_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture
def lull(lull_endpoint):
    """Runs the CLI against the server; returns the CompletedProcess."""

    def run(*args, stdin=None, check=True, endpoint=None):
        env = {k: v for k, v in os.environ.items() if k != "LULL_ENDPOINT"}
        done = subprocess.run(
            [lull_bin(), "--endpoint", endpoint or lull_endpoint, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        if check:
            assert done.returncode == 0, f"lull {args} failed: {done.stderr}"
        return done

    return run


def unique(name):
    return f"cli-{name}-{uuid.uuid4().hex[:8]}"


def counts(sqs, url):
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return (
        int(attrs["ApproximateNumberOfMessages"]),
        int(attrs["ApproximateNumberOfMessagesNotVisible"]),
        int(attrs["ApproximateNumberOfMessagesDelayed"]),
    )


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_queues_lists_counts_as_table_and_json(sqs, lull):
    prefix = unique("list")
    busy = sqs.create_queue(QueueName=f"{prefix}-busy")["QueueUrl"]
    sqs.create_queue(QueueName=f"{prefix}-idle")
    sqs.send_message(QueueUrl=busy, MessageBody="one")
    sqs.send_message(QueueUrl=busy, MessageBody="two")
    sqs.send_message(QueueUrl=busy, MessageBody="later", DelaySeconds=300)
    sqs.receive_message(QueueUrl=busy, MaxNumberOfMessages=1, VisibilityTimeout=300)

    rows = json.loads(lull("queues", "--prefix", prefix, "--json").stdout)
    assert [r["name"] for r in rows] == [f"{prefix}-busy", f"{prefix}-idle"]
    assert (rows[0]["visible"], rows[0]["in_flight"], rows[0]["delayed"]) == (1, 1, 1)
    assert (rows[1]["visible"], rows[1]["in_flight"], rows[1]["delayed"]) == (0, 0, 0)
    assert rows[0]["url"].endswith(f"/123456789012/{prefix}-busy")

    table = lull("queues", "--prefix", prefix).stdout.splitlines()
    assert table[0].split() == ["QUEUE", "VISIBLE", "IN-FLIGHT", "DELAYED"]
    assert table[1].split() == [f"{prefix}-busy", "1", "1", "1"]
    assert table[2].split() == [f"{prefix}-idle", "0", "0", "0"]


def test_send_from_argument_and_stdin_with_attributes(sqs, lull):
    name = unique("send")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]

    first_id = lull("send", name, "hello", "--attr", "kind=greeting").stdout.strip()
    second_id = lull("send", url, "-", stdin="line one\nline two\n").stdout.strip()
    assert first_id and second_id and first_id != second_id

    got = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=1
    )["Messages"]
    by_id = {m["MessageId"]: m for m in got}
    assert by_id[first_id]["Body"] == "hello"
    assert by_id[first_id]["MessageAttributes"]["kind"] == {
        "DataType": "String",
        "StringValue": "greeting",
    }
    assert by_id[second_id]["Body"] == "line one\nline two\n"


def test_send_to_fifo_with_group_and_delay_to_standard(sqs, lull):
    fifo = unique("send") + ".fifo"
    fifo_url = sqs.create_queue(QueueName=fifo, Attributes={"FifoQueue": "true"})["QueueUrl"]
    lull("send", fifo, "ordered", "--group", "g1", "--dedup-id", "d1")
    got = sqs.receive_message(
        QueueUrl=fifo_url, AttributeNames=["MessageGroupId"], WaitTimeSeconds=1
    )["Messages"]
    assert got[0]["Body"] == "ordered"
    assert got[0]["Attributes"]["MessageGroupId"] == "g1"

    plain = unique("delay")
    plain_url = sqs.create_queue(QueueName=plain)["QueueUrl"]
    lull("send", plain, "later", "--delay", "120")
    assert counts(sqs, plain_url) == (0, 0, 1)


def test_receive_prints_and_delete_removes(sqs, lull):
    name = unique("recv")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    for body in ("alpha", "beta", "gamma"):
        sqs.send_message(QueueUrl=url, MessageBody=body)

    text = lull("receive", name, "--max", "1", "--visibility", "300").stdout
    assert text.startswith("message ")
    assert "receives 1" in text.splitlines()[0]
    assert counts(sqs, url) == (2, 1, 0)

    done = lull("receive", name, "--max", "10", "--wait", "1", "--delete", "--json")
    rows = json.loads(done.stdout)
    assert sorted(r["body"] for r in rows) == sorted({"alpha", "beta", "gamma"} - {text.splitlines()[1]})
    assert all(r["receive_count"] == 1 and r["deleted"] for r in rows)
    assert counts(sqs, url) == (0, 1, 0)

    empty = lull("receive", name)
    assert empty.stdout == ""
    assert json.loads(lull("receive", name, "--json").stdout) == []


def test_purge_empties_the_queue(sqs, lull):
    name = unique("purge")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    assert lull("purge", name).stdout.strip() == f"purged {name}"
    assert wait_for(lambda: counts(sqs, url) == (0, 0, 0))


def dead_letter_pair(sqs, name):
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})
    src_url = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": policy})["QueueUrl"]
    return src_url, dlq_url


def test_redrive_moves_dead_letters_back_to_their_source(sqs, lull):
    name = unique("redrive")
    src_url, dlq_url = dead_letter_pair(sqs, name)
    for i in range(3):
        sqs.send_message(QueueUrl=src_url, MessageBody=f"poison-{i}")

    # Receive each message past maxReceiveCount so the server dead-letters it.
    def dead_lettered():
        sqs.receive_message(QueueUrl=src_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return counts(sqs, dlq_url)[0] == 3

    assert wait_for(dead_lettered), counts(sqs, dlq_url)

    done = lull("redrive", f"{name}-dlq")
    # The destination is named when the server reports it, else described.
    assert done.stdout.strip() in (
        f"moved 3 messages from {name}-dlq to their source queues",
        f"moved 3 messages from {name}-dlq to {name}",
    )
    assert counts(sqs, dlq_url) == (0, 0, 0)
    assert counts(sqs, src_url)[0] == 3


def test_redrive_to_another_queue(sqs, lull):
    name = unique("redrive-to")
    _, dlq_url = dead_letter_pair(sqs, name)
    other = unique("other")
    other_url = sqs.create_queue(QueueName=other)["QueueUrl"]
    for i in range(2):
        sqs.send_message(QueueUrl=dlq_url, MessageBody=f"stray-{i}")

    done = lull("redrive", dlq_url, "--to", other)
    assert done.stdout.strip() == f"moved 2 messages from {name}-dlq to {other}"
    assert counts(sqs, dlq_url) == (0, 0, 0)
    bodies = sorted(
        m["Body"]
        for m in sqs.receive_message(QueueUrl=other_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)[
            "Messages"
        ]
    )
    assert bodies == ["stray-0", "stray-1"]


@pytest.mark.parametrize(
    "args",
    [
        ("send", "no-such-queue-cli", "x"),
        ("receive", "no-such-queue-cli"),
        ("purge", "no-such-queue-cli"),
        ("redrive", "no-such-queue-cli"),
    ],
)
def test_unknown_queue_is_one_line_and_exit_1(lull, args):
    done = lull(*args, check=False)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "QueueDoesNotExist: The specified queue does not exist." in lines[0]
    assert done.stdout == ""


def test_unreachable_server_is_one_line_and_exit_1(lull):
    done = lull("queues", check=False, endpoint="http://127.0.0.1:9")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "cannot reach http://127.0.0.1:9" in lines[0]
