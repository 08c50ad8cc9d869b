"""Dead-letter queues with boto3: RedrivePolicy (maxReceiveCount), ListDeadLetterSourceQueues,
RedriveAllowPolicy, and message move tasks (Start/List/CancelMessageMoveTask) that move
dead-lettered messages back to their source or to a chosen queue.
"""

import json
import time

import pytest
from botocore.exceptions import ClientError

from compat_util import attrs, queue_arn, raises_code


def _redrive(dlq_name, max_receives):
    return json.dumps({"deadLetterTargetArn": queue_arn(dlq_name), "maxReceiveCount": max_receives})


def _count(sqs, url):
    a = attrs(
        sqs,
        url,
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    )
    return sum(int(v) for v in a.values())


def _dead_letter_all(sqs, src_url, dlq_url, n, timeout=15.0):
    """Receive with VisibilityTimeout=0 until all n messages have moved to the DLQ."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sqs.receive_message(QueueUrl=src_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        if (
            int(attrs(sqs, dlq_url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"])
            >= n
        ):
            return
    raise AssertionError(f"messages did not reach the dead-letter queue within {timeout}s")


def _wait_task(sqs, dlq_name, handle, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        results = sqs.list_message_move_tasks(SourceArn=queue_arn(dlq_name), MaxResults=10)[
            "Results"
        ]
        # TaskHandle is only listed while a task runs; the newest task comes first.
        mine = [r for r in results if r.get("TaskHandle") == handle] or results[:1]
        if mine and mine[0]["Status"] in ("COMPLETED", "CANCELLED", "FAILED"):
            return mine[0]
        time.sleep(0.2)
    raise AssertionError(f"move task did not finish within {timeout}s: {results}")


@pytest.fixture
def dlq_pair(sqs, make_queue):
    """A source queue whose messages dead-letter after one receive."""
    dlq_url, dlq_name = make_queue(prefix="dlq")
    src_url, src_name = make_queue(
        prefix="src", attributes={"RedrivePolicy": _redrive(dlq_name, 1)}
    )
    return src_url, src_name, dlq_url, dlq_name


def test_redrive_after_max_receive_count(sqs, make_queue):
    dlq_url, dlq_name = make_queue(prefix="dlq")
    src_url, src_name = make_queue(
        prefix="src", attributes={"RedrivePolicy": _redrive(dlq_name, 2)}
    )
    policy = json.loads(attrs(sqs, src_url, "RedrivePolicy")["RedrivePolicy"])
    assert policy["deadLetterTargetArn"] == queue_arn(dlq_name)
    assert int(policy["maxReceiveCount"]) == 2

    ma = {"kind": {"DataType": "String", "StringValue": "poison"}}
    sent = sqs.send_message(QueueUrl=src_url, MessageBody="poison pill", MessageAttributes=ma)
    receives = 0
    for _ in range(5):
        msgs = sqs.receive_message(QueueUrl=src_url, VisibilityTimeout=0, WaitTimeSeconds=1).get(
            "Messages", []
        )
        receives += len(msgs)
    assert receives == 2, "delivered maxReceiveCount times, then dead-lettered"
    assert _count(sqs, src_url) == 0
    got = sqs.receive_message(
        QueueUrl=dlq_url, AttributeNames=["All"], MessageAttributeNames=["All"], WaitTimeSeconds=2
    )["Messages"]
    assert len(got) == 1
    m = got[0]
    assert m["Body"] == "poison pill"
    assert m["MessageId"] == sent["MessageId"]
    assert m["MessageAttributes"]["kind"]["StringValue"] == "poison"
    assert m["Attributes"].get("DeadLetterQueueSourceArn") == queue_arn(src_name)


def test_redrive_policy_string_count_and_removal(sqs, make_queue):
    dlq_url, dlq_name = make_queue(prefix="dlq")
    src_url, _ = make_queue(prefix="src")
    sqs.set_queue_attributes(
        QueueUrl=src_url,
        Attributes={
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": queue_arn(dlq_name), "maxReceiveCount": "3"}
            )
        },
    )
    assert (
        int(json.loads(attrs(sqs, src_url, "RedrivePolicy")["RedrivePolicy"])["maxReceiveCount"])
        == 3
    )
    sqs.set_queue_attributes(QueueUrl=src_url, Attributes={"RedrivePolicy": ""})
    assert "RedrivePolicy" not in attrs(sqs, src_url, "All")


def test_list_dead_letter_source_queues(sqs, make_queue):
    dlq_url, dlq_name = make_queue(prefix="dlq")
    sources = {
        make_queue(prefix="src", attributes={"RedrivePolicy": _redrive(dlq_name, 5)})[0]
        for _ in range(3)
    }
    make_queue(prefix="unrelated")
    resp = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url)
    assert set(resp["queueUrls"]) == sources
    seen, token, pages = [], None, 0
    while True:
        kw = {"QueueUrl": dlq_url, "MaxResults": 2}
        if token:
            kw["NextToken"] = token
        page = sqs.list_dead_letter_source_queues(**kw)
        seen += page["queueUrls"]
        pages += 1
        token = page.get("NextToken")
        if not token or pages > 5:
            break
    assert sorted(seen) == sorted(sources)
    lonely, _ = make_queue(prefix="lonely")
    assert sqs.list_dead_letter_source_queues(QueueUrl=lonely).get("queueUrls", []) == []


@pytest.mark.parametrize("count", [0, 1001, "x"])
def test_redrive_policy_invalid_max_receive_count(sqs, make_queue, count):
    _, dlq_name = make_queue(prefix="dlq")
    src_url, _ = make_queue(prefix="src")
    with raises_code("InvalidParameterValue"):
        sqs.set_queue_attributes(
            QueueUrl=src_url,
            Attributes={
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": queue_arn(dlq_name), "maxReceiveCount": count}
                )
            },
        )
    assert "RedrivePolicy" not in attrs(sqs, src_url, "All")


def test_redrive_policy_errors(sqs, make_queue):
    src_url, _ = make_queue(prefix="src")
    with raises_code("InvalidParameterValue"):
        sqs.set_queue_attributes(QueueUrl=src_url, Attributes={"RedrivePolicy": "{not json"})
    with raises_code("InvalidParameterValue"):
        sqs.set_queue_attributes(
            QueueUrl=src_url, Attributes={"RedrivePolicy": _redrive("no-such-queue-xyz", 3)}
        )
    # The dead-letter queue of a standard queue must be standard (and FIFO for FIFO).
    _, fifo_dlq = make_queue(prefix="fdlq", fifo=True)
    with raises_code("InvalidParameterValue"):
        sqs.set_queue_attributes(
            QueueUrl=src_url, Attributes={"RedrivePolicy": _redrive(fifo_dlq, 3)}
        )
    assert "RedrivePolicy" not in attrs(sqs, src_url, "All")


def test_fifo_dead_letter_queue(sqs, make_queue):
    dlq_url, dlq_name = make_queue(prefix="fdlq", fifo=True)
    src_url, _ = make_queue(
        prefix="fsrc",
        fifo=True,
        attributes={"RedrivePolicy": _redrive(dlq_name, 1), "ContentBasedDeduplication": "true"},
    )
    sqs.send_message(QueueUrl=src_url, MessageBody="f1", MessageGroupId="g")
    sqs.send_message(QueueUrl=src_url, MessageBody="f2", MessageGroupId="g")
    _dead_letter_all(sqs, src_url, dlq_url, 2)
    got = []
    for _ in range(4):
        for m in sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=1
        ).get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
    assert [m["Body"] for m in got] == ["f1", "f2"]
    assert {m["Attributes"]["MessageGroupId"] for m in got} == {"g"}


def test_redrive_allow_policy_deny_all(sqs, make_queue):
    _, dlq_name = make_queue(
        prefix="dlq",
        attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})},
    )
    src_url, _ = make_queue(prefix="src")
    with raises_code("InvalidParameterValue"):
        sqs.set_queue_attributes(
            QueueUrl=src_url, Attributes={"RedrivePolicy": _redrive(dlq_name, 3)}
        )
    assert "RedrivePolicy" not in attrs(sqs, src_url, "All")


def test_redrive_allow_policy_by_queue(sqs, make_queue):
    allowed_url, allowed_name = make_queue(prefix="allowed")
    denied_url, _ = make_queue(prefix="denied")
    policy = {"redrivePermission": "byQueue", "sourceQueueArns": [queue_arn(allowed_name)]}
    dlq_url, dlq_name = make_queue(
        prefix="dlq", attributes={"RedriveAllowPolicy": json.dumps(policy)}
    )
    assert json.loads(attrs(sqs, dlq_url, "RedriveAllowPolicy")["RedriveAllowPolicy"]) == policy
    sqs.set_queue_attributes(
        QueueUrl=allowed_url, Attributes={"RedrivePolicy": _redrive(dlq_name, 3)}
    )
    with raises_code("InvalidParameterValue"):
        sqs.set_queue_attributes(
            QueueUrl=denied_url, Attributes={"RedrivePolicy": _redrive(dlq_name, 3)}
        )


def test_redrive_allow_policy_invalid(sqs, make_queue):
    url, _ = make_queue(prefix="dlq")
    for bad in [
        {"redrivePermission": "sometimes"},
        {"redrivePermission": "allowAll", "sourceQueueArns": [queue_arn("x")]},
        {
            "redrivePermission": "byQueue",
            "sourceQueueArns": [queue_arn(f"x{i}") for i in range(11)],
        },
    ]:
        with raises_code("InvalidParameterValue"):
            sqs.set_queue_attributes(
                QueueUrl=url, Attributes={"RedriveAllowPolicy": json.dumps(bad)}
            )


def test_move_task_back_to_source(sqs, dlq_pair):
    src_url, src_name, dlq_url, dlq_name = dlq_pair
    bodies = [f"redrive-{i}" for i in range(3)]
    for b in bodies:
        sqs.send_message(QueueUrl=src_url, MessageBody=b)
    _dead_letter_all(sqs, src_url, dlq_url, 3)
    assert _count(sqs, src_url) == 0

    handle = sqs.start_message_move_task(SourceArn=queue_arn(dlq_name))["TaskHandle"]
    assert handle
    task = _wait_task(sqs, dlq_name, handle)
    assert task["Status"] == "COMPLETED"
    assert task["SourceArn"] == queue_arn(dlq_name)
    assert task["ApproximateNumberOfMessagesMoved"] == 3
    assert "DestinationArn" not in task
    assert _count(sqs, dlq_url) == 0
    got = []
    for _ in range(5):
        for m in sqs.receive_message(
            QueueUrl=src_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", []):
            got.append(m["Body"])
            sqs.delete_message(QueueUrl=src_url, ReceiptHandle=m["ReceiptHandle"])
        if len(got) >= 3:
            break
    assert sorted(got) == bodies


def test_move_task_to_chosen_queue(sqs, make_queue, dlq_pair):
    src_url, _, dlq_url, dlq_name = dlq_pair
    dest_url, dest_name = make_queue(prefix="dest")
    for i in range(4):
        sqs.send_message(QueueUrl=src_url, MessageBody=f"to-dest-{i}")
    _dead_letter_all(sqs, src_url, dlq_url, 4)
    handle = sqs.start_message_move_task(
        SourceArn=queue_arn(dlq_name),
        DestinationArn=queue_arn(dest_name),
        MaxNumberOfMessagesPerSecond=100,
    )["TaskHandle"]
    task = _wait_task(sqs, dlq_name, handle)
    assert task["Status"] == "COMPLETED"
    assert task["DestinationArn"] == queue_arn(dest_name)
    assert task["MaxNumberOfMessagesPerSecond"] == 100
    assert task["ApproximateNumberOfMessagesMoved"] == 4
    assert _count(sqs, dest_url) == 4
    assert _count(sqs, src_url) == 0
    assert _count(sqs, dlq_url) == 0


def test_cancel_move_task(sqs, dlq_pair):
    src_url, _, dlq_url, dlq_name = dlq_pair
    n = 10
    sqs.send_message_batch(
        QueueUrl=src_url, Entries=[{"Id": str(i), "MessageBody": f"slow-{i}"} for i in range(n)]
    )
    _dead_letter_all(sqs, src_url, dlq_url, n)
    handle = sqs.start_message_move_task(
        SourceArn=queue_arn(dlq_name), MaxNumberOfMessagesPerSecond=1
    )["TaskHandle"]
    listed = sqs.list_message_move_tasks(SourceArn=queue_arn(dlq_name))["Results"]
    assert listed[0]["Status"] in ("RUNNING", "COMPLETED")
    if listed[0]["Status"] == "RUNNING":
        assert listed[0]["TaskHandle"] == handle
        assert listed[0]["ApproximateNumberOfMessagesToMove"] == n
    cancelled = sqs.cancel_message_move_task(TaskHandle=handle)
    moved = cancelled["ApproximateNumberOfMessagesMoved"]
    assert 0 <= moved < n
    task = _wait_task(sqs, dlq_name, handle)
    assert task["Status"] == "CANCELLED"
    time.sleep(1.5)
    # Nothing is lost: every message is either back in the source or still dead-lettered.
    assert _count(sqs, src_url) + _count(sqs, dlq_url) == n
    assert _count(sqs, dlq_url) > 0


def test_list_move_tasks_most_recent_first(sqs, dlq_pair):
    src_url, _, dlq_url, dlq_name = dlq_pair
    for round_ in range(2):
        sqs.send_message(QueueUrl=src_url, MessageBody=f"r{round_}")
        _dead_letter_all(sqs, src_url, dlq_url, 1)
        h = sqs.start_message_move_task(SourceArn=queue_arn(dlq_name))["TaskHandle"]
        _wait_task(sqs, dlq_name, h)
        # Drain the source so the next round dead-letters a fresh message.
        for m in sqs.receive_message(
            QueueUrl=src_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", []):
            sqs.delete_message(QueueUrl=src_url, ReceiptHandle=m["ReceiptHandle"])
    default = sqs.list_message_move_tasks(SourceArn=queue_arn(dlq_name))["Results"]
    assert len(default) == 1, "MaxResults defaults to 1"
    results = sqs.list_message_move_tasks(SourceArn=queue_arn(dlq_name), MaxResults=10)["Results"]
    assert len(results) == 2
    assert all(r["Status"] == "COMPLETED" for r in results)
    # Finished tasks carry no TaskHandle; order them by start time, newest first.
    assert all("TaskHandle" not in r for r in results)
    started = [r["StartedTimestamp"] for r in results]
    assert all(isinstance(t, int) for t in started)
    assert started == sorted(started, reverse=True)


def test_move_task_source_must_be_dlq(sqs, make_queue):
    _, plain_name = make_queue(prefix="plain")
    with pytest.raises(ClientError) as info:
        sqs.start_message_move_task(SourceArn=queue_arn(plain_name))
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_move_task_missing_source(sqs):
    with raises_code("ResourceNotFoundException", sqs, "ResourceNotFoundException"):
        sqs.start_message_move_task(SourceArn=queue_arn("no-such-dlq-4242"))
