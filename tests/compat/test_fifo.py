"""FIFO queues with boto3: MessageGroupId rules, per-group ordering, group locking while a
message is in flight, deduplication (explicit ids and content-based, within the 5-minute
window), sequence numbers and the FIFO system attributes.
"""

import hashlib
import time

import pytest
from botocore.exceptions import ClientError

from compat_util import attrs, md5_hex, raises_code


def _send(sqs, url, body, group, dedup=None, **kw):
    args = {"QueueUrl": url, "MessageBody": body, "MessageGroupId": group}
    if dedup is not None:
        args["MessageDeduplicationId"] = dedup
    args.update(kw)
    return sqs.send_message(**args)


def _drain_fifo(sqs, url, timeout=10.0, **kw):
    """Receive and delete until empty; returns messages in arrival order."""
    out = []
    deadline = time.monotonic() + timeout
    empty = 0
    while time.monotonic() < deadline and empty < 2:
        msgs = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"], **kw
        ).get("Messages", [])
        if not msgs:
            empty += 1
            continue
        empty = 0
        for m in msgs:
            out.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def test_send_requires_message_group_id(sqs, make_queue):
    url, _ = make_queue(fifo=True, attributes={"ContentBasedDeduplication": "true"})
    with raises_code("MissingParameter"):
        sqs.send_message(QueueUrl=url, MessageBody="no group")
    assert attrs(sqs, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "0"


def test_send_requires_dedup_id_without_content_based(sqs, make_queue):
    url, _ = make_queue(fifo=True)
    with raises_code("InvalidParameterValue"):
        sqs.send_message(QueueUrl=url, MessageBody="no dedup", MessageGroupId="g")
    _send(sqs, url, "with dedup", "g", dedup="d1")


def test_per_message_delay_rejected_on_fifo(sqs, make_queue):
    url, _ = make_queue(fifo=True, attributes={"ContentBasedDeduplication": "true"})
    with raises_code("InvalidParameterValue"):
        _send(sqs, url, "delayed", "g", DelaySeconds=5)


def test_send_response_has_sequence_number(sqs, make_queue):
    url, _ = make_queue(fifo=True)
    r1 = _send(sqs, url, "one", "g", dedup="1")
    r2 = _send(sqs, url, "two", "g", dedup="2")
    r3 = _send(sqs, url, "three", "other", dedup="3")
    for r, body in ((r1, "one"), (r2, "two"), (r3, "three")):
        assert r["MD5OfMessageBody"] == md5_hex(body)
        assert r["SequenceNumber"].isdigit()
    assert int(r2["SequenceNumber"]) > int(r1["SequenceNumber"])


def test_order_within_groups(sqs, make_queue):
    url, _ = make_queue(fifo=True, attributes={"ContentBasedDeduplication": "true"})
    sent = []
    for i in range(8):
        for g in ("ga", "gb", "gc"):
            body = f"{g}-{i}"
            _send(sqs, url, body, g)
            sent.append(body)
    got = _drain_fifo(sqs, url)
    bodies = [m["Body"] for m in got]
    assert sorted(bodies) == sorted(sent)
    for g in ("ga", "gb", "gc"):
        seq = [b for b in bodies if b.startswith(g + "-")]
        assert seq == [f"{g}-{i}" for i in range(8)], f"group {g} out of order: {seq}"
        nums = [
            int(m["Attributes"]["SequenceNumber"]) for m in got if m["Body"].startswith(g + "-")
        ]
        assert nums == sorted(nums)


def test_group_held_while_in_flight(sqs, make_queue):
    url, _ = make_queue(fifo=True, attributes={"ContentBasedDeduplication": "true"})
    _send(sqs, url, "g1-a", "g1")
    _send(sqs, url, "g1-b", "g1")
    _send(sqs, url, "g2-c", "g2")
    first = sqs.receive_message(QueueUrl=url, VisibilityTimeout=60, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in first] in (["g1-a"], ["g2-c"])
    second = sqs.receive_message(QueueUrl=url, VisibilityTimeout=60, WaitTimeSeconds=1)["Messages"]
    heads = {first[0]["Body"], second[0]["Body"]}
    assert heads == {"g1-a", "g2-c"}, "g1-b must wait while g1-a is in flight; g2 proceeds"
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []) == []
    handle_a = next(m["ReceiptHandle"] for m in first + second if m["Body"] == "g1-a")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=handle_a)
    nxt = sqs.receive_message(QueueUrl=url, VisibilityTimeout=60, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in nxt] == ["g1-b"]


def test_returned_message_keeps_its_place(sqs, make_queue):
    url, _ = make_queue(fifo=True, attributes={"ContentBasedDeduplication": "true"})
    for i in range(3):
        _send(sqs, url, f"m{i}", "g")
    m = sqs.receive_message(QueueUrl=url, VisibilityTimeout=60, WaitTimeSeconds=1)["Messages"][0]
    assert m["Body"] == "m0"
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
    )
    got = _drain_fifo(sqs, url)
    assert [x["Body"] for x in got] == ["m0", "m1", "m2"]
    assert got[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_batch_receive_is_ordered(sqs, make_queue):
    url, _ = make_queue(fifo=True)
    entries = [
        {
            "Id": f"e{i}",
            "MessageBody": f"b{i}",
            "MessageGroupId": "g",
            "MessageDeduplicationId": f"d{i}",
        }
        for i in range(10)
    ]
    resp = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert resp.get("Failed", []) == []
    seqs = {e["Id"]: int(e["SequenceNumber"]) for e in resp["Successful"]}
    assert [seqs[f"e{i}"] for i in range(10)] == sorted(seqs.values())
    got = _drain_fifo(sqs, url)
    assert [m["Body"] for m in got] == [f"b{i}" for i in range(10)]


def test_dedup_by_id(sqs, make_queue):
    url, _ = make_queue(fifo=True)
    r1 = _send(sqs, url, "first", "g", dedup="same-id")
    r2 = _send(sqs, url, "second body", "g", dedup="same-id")
    assert r2["MessageId"] == r1["MessageId"]
    got = _drain_fifo(sqs, url)
    assert [m["Body"] for m in got] == ["first"]
    # Still a duplicate after the first copy was consumed (5-minute window).
    r3 = _send(sqs, url, "third", "g", dedup="same-id")
    assert r3["MessageId"] == r1["MessageId"]
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []) == []


def test_dedup_content_based(sqs, make_queue):
    url, _ = make_queue(fifo=True, attributes={"ContentBasedDeduplication": "true"})
    r1 = _send(sqs, url, "same body", "g1")
    # Content-based: the body alone decides, not attributes or group.
    r2 = _send(
        sqs,
        url,
        "same body",
        "g1",
        MessageAttributes={"a": {"DataType": "String", "StringValue": "x"}},
    )
    assert r2["MessageId"] == r1["MessageId"]
    # An explicit id takes precedence over the content hash.
    r3 = _send(sqs, url, "same body", "g1", dedup="explicit")
    assert r3["MessageId"] != r1["MessageId"]
    got = _drain_fifo(sqs, url)
    assert [m["Body"] for m in got] == ["same body", "same body"]
    dedup_ids = [m["Attributes"]["MessageDeduplicationId"] for m in got]
    assert dedup_ids == [hashlib.sha256(b"same body").hexdigest(), "explicit"]


def test_dedup_in_batch(sqs, make_queue):
    url, _ = make_queue(fifo=True)
    resp = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "MessageBody": "x", "MessageGroupId": "g", "MessageDeduplicationId": "d"},
            {"Id": "b", "MessageBody": "y", "MessageGroupId": "g", "MessageDeduplicationId": "d"},
        ],
    )
    ok = {e["Id"]: e["MessageId"] for e in resp["Successful"]}
    assert ok["a"] == ok["b"]
    assert [m["Body"] for m in _drain_fifo(sqs, url)] == ["x"]


def test_fifo_system_attributes(sqs, make_queue):
    url, _ = make_queue(fifo=True)
    sent = _send(sqs, url, "attrs", "group-7", dedup="dd-7")
    m = sqs.receive_message(QueueUrl=url, AttributeNames=["All"], WaitTimeSeconds=1)["Messages"][0]
    a = m["Attributes"]
    assert a["MessageGroupId"] == "group-7"
    assert a["MessageDeduplicationId"] == "dd-7"
    assert a["SequenceNumber"] == sent["SequenceNumber"]
    assert a["ApproximateReceiveCount"] == "1"
    only = sqs.receive_message(QueueUrl=url, AttributeNames=["MessageGroupId"], WaitTimeSeconds=0)
    # The group is locked by the in-flight message, so nothing comes back.
    assert only.get("Messages", []) == []


def test_fifo_batch_requires_group(sqs, make_queue):
    url, _ = make_queue(fifo=True, attributes={"ContentBasedDeduplication": "true"})
    resp = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "ok", "MessageBody": "x", "MessageGroupId": "g"},
            {"Id": "nogroup", "MessageBody": "y"},
        ],
    )
    assert [e["Id"] for e in resp.get("Successful", [])] == ["ok"]
    assert [f["Id"] for f in resp["Failed"]] == ["nogroup"]
    assert resp["Failed"][0]["Code"] == "MissingParameter"
    assert resp["Failed"][0]["SenderFault"] is True


def test_fifo_queue_delay(sqs, make_queue):
    url, _ = make_queue(
        fifo=True, attributes={"ContentBasedDeduplication": "true", "DelaySeconds": "2"}
    )
    t0 = time.monotonic()
    _send(sqs, url, "late", "g")
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages", [])
    assert [m["Body"] for m in msgs] == ["late"]
    assert time.monotonic() - t0 >= 1.8


def test_standard_queue_rejects_dedup_id(sqs, make_queue):
    url, _ = make_queue()
    with raises_code("InvalidParameterValue"):
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")


def test_fifo_attribute_immutable(sqs, make_queue):
    url, _ = make_queue(fifo=True)
    # FifoQueue can only be given at creation.
    with pytest.raises(ClientError):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "false"})
    assert attrs(sqs, url, "FifoQueue")["FifoQueue"] == "true"
