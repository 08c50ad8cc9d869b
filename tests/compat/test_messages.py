"""Message operations on standard queues with boto3: SendMessage(Batch), ReceiveMessage,
DeleteMessage(Batch), ChangeMessageVisibility(Batch), delays, long polling, message and
system attributes with their MD5 digests, and size limits.

boto3 does not check the MD5 digests itself, so the tests recompute them the way SQS
defines them (see compat_util.md5_of_attributes).
"""

import base64
import threading
import time

import pytest
from botocore.exceptions import ClientError

from compat_util import attrs, md5_hex, md5_of_attributes, raises_code, receive_all

ATTRS = {
    "s": {"DataType": "String", "StringValue": "hello ✓"},
    "n": {"DataType": "Number", "StringValue": "-12.50"},
    "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xfe\xff"},
    "custom": {"DataType": "String.json", "StringValue": '{"k": 1}'},
    "foo.bar": {"DataType": "Number.int", "StringValue": "7"},
    "foo.baz": {"DataType": "Binary.gz", "BinaryValue": b"zz"},
}


def _norm(attributes: dict) -> dict:
    """boto3 gives binary values back as bytes in both protocols; normalise for comparison."""
    out = {}
    for k, v in attributes.items():
        v = {kk: vv for kk, vv in v.items() if kk in ("DataType", "StringValue", "BinaryValue")}
        if "BinaryValue" in v:
            v["BinaryValue"] = bytes(v["BinaryValue"])
        out[k] = v
    return out


# ------------------------------------------------------------------ send / receive / delete


def test_send_receive_delete_roundtrip(sqs, make_queue):
    url, _ = make_queue()
    body = "hello <xml/> & {json} — ünïcødé 🎉\n\ttabs"
    sent = sqs.send_message(QueueUrl=url, MessageBody=body)
    assert sent["MD5OfMessageBody"] == md5_hex(body)
    assert "MD5OfMessageAttributes" not in sent
    assert sent["MessageId"]
    msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)["Messages"]
    assert len(msgs) == 1
    m = msgs[0]
    assert m["Body"] == body
    assert m["MessageId"] == sent["MessageId"]
    assert m["MD5OfBody"] == md5_hex(body)
    assert m["ReceiptHandle"]
    assert "MessageAttributes" not in m
    assert "Attributes" not in m or m["Attributes"] == {}
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    # Deleting again with the same handle is not an error in SQS.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    a = attrs(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    assert a == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_message_ids_unique(sqs, make_queue):
    url, _ = make_queue()
    ids = {sqs.send_message(QueueUrl=url, MessageBody="same")["MessageId"] for _ in range(5)}
    assert len(ids) == 5


def test_message_attributes_all_types(sqs, make_queue):
    url, _ = make_queue()
    sent = sqs.send_message(QueueUrl=url, MessageBody="with attrs", MessageAttributes=ATTRS)
    assert sent["MD5OfMessageBody"] == md5_hex("with attrs")
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(ATTRS)
    m = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=2)[
        "Messages"
    ][0]
    assert _norm(m["MessageAttributes"]) == _norm(ATTRS)
    assert m["MD5OfMessageAttributes"] == md5_of_attributes(ATTRS)
    assert m["MD5OfBody"] == md5_hex("with attrs")


@pytest.mark.parametrize(
    "names,expected",
    [
        (None, set()),
        (["All"], set(ATTRS)),
        ([".*"], set(ATTRS)),
        (["s"], {"s"}),
        (["s", "n", "missing"], {"s", "n"}),
        (["foo.*"], {"foo.bar", "foo.baz"}),
        (["foo.*", "b"], {"foo.bar", "foo.baz", "b"}),
    ],
    ids=["none", "All", "dot-star", "one", "two-and-missing", "prefix", "prefix-and-name"],
)
def test_receive_message_attribute_names_filter(sqs, make_queue, names, expected):
    url, _ = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="filter", MessageAttributes=ATTRS)
    kw = {"MessageAttributeNames": names} if names is not None else {}
    m = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, **kw)["Messages"][0]
    got = m.get("MessageAttributes", {})
    assert set(got) == expected
    if expected:
        subset = {k: ATTRS[k] for k in expected}
        assert _norm(got) == _norm(subset)
        # The digest covers the attributes returned.
        assert m["MD5OfMessageAttributes"] == md5_of_attributes(subset)
    else:
        assert "MD5OfMessageAttributes" not in m


def test_number_attribute_kept_verbatim(sqs, make_queue):
    url, _ = make_queue()
    values = {"a": "1e3", "b": "0.000100", "c": "-0", "d": "123456789012345678901234567890"}
    ma = {k: {"DataType": "Number", "StringValue": v} for k, v in values.items()}
    sent = sqs.send_message(QueueUrl=url, MessageBody="n", MessageAttributes=ma)
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(ma)
    m = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=2)[
        "Messages"
    ][0]
    assert {k: v["StringValue"] for k, v in m["MessageAttributes"].items()} == values


@pytest.mark.parametrize(
    "ma",
    [
        {"x": {"DataType": "Number", "StringValue": "not-a-number"}},
        {"x": {"DataType": "String", "StringValue": ""}},
        {"x": {"DataType": "Weird", "StringValue": "v"}},
        {"x": {"DataType": "String"}},
        {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)},
        {"AWS.reserved": {"DataType": "String", "StringValue": "v"}},
        {"bad name": {"DataType": "String", "StringValue": "v"}},
    ],
    ids=[
        "nan-number",
        "empty-string",
        "unknown-type",
        "no-value",
        "eleven",
        "aws-prefix",
        "space-in-name",
    ],
)
def test_invalid_message_attributes(sqs_raw, make_queue, ma):
    url, _ = make_queue()
    with raises_code("InvalidParameterValue"):
        sqs_raw.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=ma)
    assert attrs(sqs_raw, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "0"


def test_invalid_body_characters(sqs, make_queue):
    url, _ = make_queue()
    for body in ["bell\x07", "nul\x00", "\ufffe"]:
        with raises_code("InvalidMessageContents", sqs, "InvalidMessageContents"):
            sqs.send_message(QueueUrl=url, MessageBody=body)
    # The edges of the allowed set are accepted.
    ok = "\t\n\r \ud7ff\ue000\ufffd\U00010000\U0010ffff"
    sqs.send_message(QueueUrl=url, MessageBody=ok)
    m = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)["Messages"][0]
    assert m["Body"] == ok
    assert m["MD5OfBody"] == md5_hex(ok)


def test_system_attributes_on_receive(sqs, make_queue):
    url, _ = make_queue()
    before = int(time.time() * 1000)
    sqs.send_message(QueueUrl=url, MessageBody="sys")
    m = sqs.receive_message(
        QueueUrl=url, AttributeNames=["All"], VisibilityTimeout=0, WaitTimeSeconds=2
    )["Messages"][0]
    a = m["Attributes"]
    assert {
        "SenderId",
        "SentTimestamp",
        "ApproximateReceiveCount",
        "ApproximateFirstReceiveTimestamp",
    } <= set(a)
    assert a["ApproximateReceiveCount"] == "1"
    sent_ts = int(a["SentTimestamp"])
    assert before - 5000 <= sent_ts <= int(time.time() * 1000) + 5000
    first = int(a["ApproximateFirstReceiveTimestamp"])
    assert first >= sent_ts
    assert "SequenceNumber" not in a and "MessageGroupId" not in a
    # A second receive counts up and keeps the first-receive time.
    m2 = sqs.receive_message(
        QueueUrl=url,
        AttributeNames=["ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp"],
        WaitTimeSeconds=2,
    )["Messages"][0]
    assert m2["Attributes"] == {
        "ApproximateReceiveCount": "2",
        "ApproximateFirstReceiveTimestamp": str(first),
    }


def test_message_system_attribute_names_param(sqs, make_queue):
    if (
        "MessageSystemAttributeNames"
        not in sqs.meta.service_model.operation_model("ReceiveMessage").input_shape.members
    ):
        pytest.skip("this botocore predates MessageSystemAttributeNames")
    url, _ = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="x")
    m = sqs.receive_message(
        QueueUrl=url, MessageSystemAttributeNames=["SentTimestamp"], WaitTimeSeconds=2
    )["Messages"][0]
    assert set(m["Attributes"]) == {"SentTimestamp"}


def test_aws_trace_header(sqs, make_queue):
    url, _ = make_queue()
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    sysattrs = {"AWSTraceHeader": {"DataType": "String", "StringValue": trace}}
    sent = sqs.send_message(QueueUrl=url, MessageBody="traced", MessageSystemAttributes=sysattrs)
    assert sent["MD5OfMessageSystemAttributes"] == md5_of_attributes(sysattrs)
    m = sqs.receive_message(QueueUrl=url, AttributeNames=["AWSTraceHeader"], WaitTimeSeconds=2)[
        "Messages"
    ][0]
    assert m["Attributes"] == {"AWSTraceHeader": trace}


# ------------------------------------------------------------------ delays


def test_queue_delay_seconds(sqs, make_queue):
    url, _ = make_queue(attributes={"DelaySeconds": "2"})
    t0 = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="delayed")
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    assert (
        attrs(sqs, url, "ApproximateNumberOfMessagesDelayed")["ApproximateNumberOfMessagesDelayed"]
        == "1"
    )
    msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages", [])
    assert [m["Body"] for m in msgs] == ["delayed"]
    assert time.monotonic() - t0 >= 1.8


def test_message_delay_overrides_queue(sqs, make_queue):
    url, _ = make_queue(attributes={"DelaySeconds": "60"})
    sqs.send_message(QueueUrl=url, MessageBody="now", DelaySeconds=0)
    msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages", [])
    assert [m["Body"] for m in msgs] == ["now"]


def test_message_delay_seconds(sqs, make_queue):
    url, _ = make_queue()
    t0 = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="d", DelaySeconds=2)
    sqs.send_message(QueueUrl=url, MessageBody="i")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    assert [m["Body"] for m in first["Messages"]] == ["i"]
    got = receive_all(sqs, url, expect=1, timeout=6)
    assert [m["Body"] for m in got] == ["d"]
    assert time.monotonic() - t0 >= 1.8


def test_message_delay_out_of_range(sqs_raw, make_queue):
    url, _ = make_queue()
    with raises_code("InvalidParameterValue"):
        sqs_raw.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901)


# ------------------------------------------------------------------ size limits


def test_size_limit_262144(sqs, make_queue):
    url, _ = make_queue(attributes={"MaximumMessageSize": "262144"})
    body = "a" * 262144
    sent = sqs.send_message(QueueUrl=url, MessageBody=body)
    assert sent["MD5OfMessageBody"] == md5_hex(body)
    with raises_code("InvalidParameterValue"):
        sqs.send_message(QueueUrl=url, MessageBody=body + "a")
    # Multi-byte characters count as their UTF-8 bytes.
    with raises_code("InvalidParameterValue"):
        sqs.send_message(QueueUrl=url, MessageBody="é" * 131073)
    m = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)["Messages"][0]
    assert m["Body"] == body


def test_size_limit_counts_attributes(sqs, make_queue):
    url, _ = make_queue(attributes={"MaximumMessageSize": "1024"})
    # Attribute name, type and value all count towards the limit.
    ma = {"k": {"DataType": "String", "StringValue": "v" * 20}}
    with raises_code("InvalidParameterValue"):
        sqs.send_message(QueueUrl=url, MessageBody="a" * 1010, MessageAttributes=ma)
    sqs.send_message(QueueUrl=url, MessageBody="a" * 1024)


def test_size_limit_default_1mib(sqs, make_queue):
    url, _ = make_queue()
    body = "b" * 1048576
    sqs.send_message(QueueUrl=url, MessageBody=body)
    with raises_code("InvalidParameterValue"):
        sqs.send_message(QueueUrl=url, MessageBody=body + "b")
    m = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)["Messages"][0]
    assert len(m["Body"]) == 1048576 and m["MD5OfBody"] == md5_hex(body)


# ------------------------------------------------------------------ batches


def test_send_message_batch(sqs, make_queue):
    url, _ = make_queue()
    entries = [{"Id": f"e{i}", "MessageBody": f"batch-{i}"} for i in range(9)] + [
        {
            "Id": "with_attrs-1",
            "MessageBody": "attrs",
            "MessageAttributes": ATTRS,
            "DelaySeconds": 0,
        }
    ]
    resp = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert resp.get("Failed", []) == []
    ok = {e["Id"]: e for e in resp["Successful"]}
    assert set(ok) == {e["Id"] for e in entries}
    for e in entries:
        assert ok[e["Id"]]["MD5OfMessageBody"] == md5_hex(e["MessageBody"])
        assert ok[e["Id"]]["MessageId"]
    assert ok["with_attrs-1"]["MD5OfMessageAttributes"] == md5_of_attributes(ATTRS)
    got = receive_all(sqs, url, expect=10, MessageAttributeNames=["All"])
    assert sorted(m["Body"] for m in got) == sorted(e["MessageBody"] for e in entries)
    assert {m["MessageId"] for m in got} == {e["MessageId"] for e in resp["Successful"]}


def test_send_message_batch_partial_failure(sqs, make_queue):
    url, _ = make_queue()
    resp = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "good", "MessageBody": "fine"},
            {"Id": "bad", "MessageBody": "bad\x00body"},
        ],
    )
    assert [e["Id"] for e in resp["Successful"]] == ["good"]
    failed = resp["Failed"]
    assert [f["Id"] for f in failed] == ["bad"]
    assert failed[0]["SenderFault"] is True
    assert failed[0]["Code"] == "InvalidMessageContents"
    got = receive_all(sqs, url, expect=1)
    assert [m["Body"] for m in got] == ["fine"]


def test_send_message_batch_duplicate_ids(sqs, make_queue):
    url, _ = make_queue()
    with raises_code(
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", sqs, "BatchEntryIdsNotDistinct"
    ):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": "x", "MessageBody": "1"}, {"Id": "x", "MessageBody": "2"}],
        )
    assert attrs(sqs, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "0"


def test_send_message_batch_empty(sqs_raw, make_queue):
    url, _ = make_queue()
    with raises_code("AWS.SimpleQueueService.EmptyBatchRequest", sqs_raw, "EmptyBatchRequest"):
        sqs_raw.send_message_batch(QueueUrl=url, Entries=[])


def test_send_message_batch_too_many(sqs, make_queue):
    url, _ = make_queue()
    entries = [{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)]
    with raises_code(
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", sqs, "TooManyEntriesInBatchRequest"
    ):
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert attrs(sqs, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "0"


def test_send_message_batch_too_long(sqs, make_queue):
    url, _ = make_queue()
    # Each entry is within the per-message limit; the sum exceeds the batch limit.
    entries = [{"Id": f"e{i}", "MessageBody": "z" * 110_000} for i in range(10)]
    with raises_code("AWS.SimpleQueueService.BatchRequestTooLong", sqs, "BatchRequestTooLong"):
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert attrs(sqs, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "0"


def test_send_message_batch_invalid_id(sqs, make_queue):
    url, _ = make_queue()
    for bad in ["has space", "a" * 81, "dot.id"]:
        with raises_code("AWS.SimpleQueueService.InvalidBatchEntryId", sqs, "InvalidBatchEntryId"):
            sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": bad, "MessageBody": "x"}])


def test_delete_message_batch(sqs, make_queue):
    url, _ = make_queue()
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"d{i}"} for i in range(4)]
    )
    got = receive_all(sqs, url, expect=4, delete=False, VisibilityTimeout=60)
    assert len(got) == 4
    entries = [{"Id": f"m{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
    entries.append({"Id": "forged", "ReceiptHandle": "not-a-real-handle"})
    resp = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    assert sorted(e["Id"] for e in resp["Successful"]) == ["m0", "m1", "m2", "m3"]
    assert [f["Id"] for f in resp["Failed"]] == ["forged"]
    assert resp["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    assert resp["Failed"][0]["SenderFault"] is True
    a = attrs(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    assert a == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_delete_message_batch_errors(sqs, sqs_raw, make_queue):
    url, _ = make_queue()
    with raises_code("AWS.SimpleQueueService.EmptyBatchRequest"):
        sqs_raw.delete_message_batch(QueueUrl=url, Entries=[])
    with raises_code("AWS.SimpleQueueService.BatchEntryIdsNotDistinct"):
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": "a", "ReceiptHandle": "h1"}, {"Id": "a", "ReceiptHandle": "h2"}],
        )
    with raises_code("AWS.SimpleQueueService.TooManyEntriesInBatchRequest"):
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": f"i{i}", "ReceiptHandle": "h"} for i in range(11)]
        )


def test_delete_message_invalid_receipt_handle(sqs, make_queue):
    url, _ = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="keep")
    for forged in ["garbage", base64.b64encode(b"forged-handle-0123456789").decode(), "a" * 400]:
        with raises_code("ReceiptHandleIsInvalid", sqs, "ReceiptHandleIsInvalid"):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=forged)
    got = receive_all(sqs, url, expect=1)
    assert [m["Body"] for m in got] == ["keep"]


def test_receipt_handle_of_other_queue(sqs, make_queue):
    url_a, _ = make_queue()
    url_b, _ = make_queue()
    sqs.send_message(QueueUrl=url_a, MessageBody="from-a")
    m = sqs.receive_message(QueueUrl=url_a, VisibilityTimeout=60, WaitTimeSeconds=2)["Messages"][0]
    # Whether or not the server reports it, another queue's handle must not delete anything.
    try:
        sqs.delete_message(QueueUrl=url_b, ReceiptHandle=m["ReceiptHandle"])
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ReceiptHandleIsInvalid"
    assert attrs(sqs, url_a, "ApproximateNumberOfMessagesNotVisible") == {
        "ApproximateNumberOfMessagesNotVisible": "1"
    }


# ------------------------------------------------------------------ receive parameters


def test_receive_max_number_of_messages(sqs, make_queue):
    url, _ = make_queue()
    for chunk in range(2):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": f"c{chunk}-{i}"} for i in range(10)],
        )
    one = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)
    assert len(one["Messages"]) == 1, "default MaxNumberOfMessages is 1"
    bodies = {one["Messages"][0]["Body"]}
    deadline = time.monotonic() + 10
    while len(bodies) < 20 and time.monotonic() < deadline:
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        msgs = resp.get("Messages", [])
        assert len(msgs) <= 10
        bodies |= {m["Body"] for m in msgs}
    assert len(bodies) == 20


@pytest.mark.parametrize("n", [0, 11])
def test_receive_max_number_out_of_range(sqs_raw, make_queue, n):
    url, _ = make_queue()
    with raises_code("InvalidParameterValue"):
        sqs_raw.receive_message(QueueUrl=url, MaxNumberOfMessages=n)


def test_receive_wait_time_out_of_range(sqs_raw, make_queue):
    url, _ = make_queue()
    with raises_code("InvalidParameterValue"):
        sqs_raw.receive_message(QueueUrl=url, WaitTimeSeconds=21)


def test_receive_visibility_timeout(sqs, make_queue):
    url, _ = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="vt")
    m = sqs.receive_message(QueueUrl=url, VisibilityTimeout=1, WaitTimeSeconds=2)["Messages"][0]
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    time.sleep(1.3)
    again = sqs.receive_message(
        QueueUrl=url, AttributeNames=["ApproximateReceiveCount"], WaitTimeSeconds=2
    )
    m2 = again["Messages"][0]
    assert m2["MessageId"] == m["MessageId"]
    assert m2["Attributes"]["ApproximateReceiveCount"] == "2"
    assert m2["ReceiptHandle"] != m["ReceiptHandle"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"])


def test_queue_visibility_timeout_applies(sqs, make_queue):
    url, _ = make_queue(attributes={"VisibilityTimeout": "1"})
    sqs.send_message(QueueUrl=url, MessageBody="q")
    sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)["Messages"]
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    time.sleep(1.3)
    assert len(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)["Messages"]) == 1


def test_long_poll_empty_waits(sqs, make_queue):
    url, _ = make_queue()
    t0 = time.monotonic()
    resp = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)
    elapsed = time.monotonic() - t0
    assert resp.get("Messages", []) == []
    assert 1.8 <= elapsed < 4.5


def test_long_poll_returns_early(endpoint, sqs, make_queue):
    from conftest import make_client

    url, _ = make_queue()
    sender = make_client(endpoint)

    def send_later():
        time.sleep(1.0)
        sender.send_message(QueueUrl=url, MessageBody="wake up")

    t = threading.Thread(target=send_later)
    t0 = time.monotonic()
    t.start()
    resp = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=15)
    elapsed = time.monotonic() - t0
    t.join()
    assert [m["Body"] for m in resp.get("Messages", [])] == ["wake up"]
    assert elapsed < 4, f"long poll returned after {elapsed:.1f}s, not when the message arrived"


def test_queue_receive_wait_time_default(sqs, make_queue):
    url, _ = make_queue(attributes={"ReceiveMessageWaitTimeSeconds": "2"})
    t0 = time.monotonic()
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    assert time.monotonic() - t0 >= 1.8
    # An explicit 0 overrides the queue's long polling.
    t0 = time.monotonic()
    sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    assert time.monotonic() - t0 < 1.5


def test_concurrent_long_polls_each_message_once(endpoint, sqs, make_queue):
    from conftest import make_client

    url, _ = make_queue()
    results = []
    lock = threading.Lock()

    def poll():
        c = make_client(endpoint)
        r = c.receive_message(QueueUrl=url, WaitTimeSeconds=5, VisibilityTimeout=60)
        with lock:
            results.extend(m["Body"] for m in r.get("Messages", []))

    threads = [threading.Thread(target=poll) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"w{i}")
    for t in threads:
        t.join()
    leftovers = receive_all(sqs, url, expect=None, VisibilityTimeout=60)
    assert sorted(results + [m["Body"] for m in leftovers]) == ["w0", "w1", "w2"]


# ------------------------------------------------------------------ visibility changes


def test_change_visibility_zero_makes_visible(sqs, make_queue):
    url, _ = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="cv")
    m = sqs.receive_message(QueueUrl=url, VisibilityTimeout=60, WaitTimeSeconds=2)["Messages"][0]
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
    )
    again = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert again[0]["MessageId"] == m["MessageId"]


def test_change_visibility_extends(sqs, make_queue):
    url, _ = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="cv")
    m = sqs.receive_message(QueueUrl=url, VisibilityTimeout=2, WaitTimeSeconds=2)["Messages"][0]
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=30
    )
    time.sleep(2.5)
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    # The handle still works for deleting.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_change_visibility_errors(sqs, sqs_raw, make_queue):
    url, _ = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="cv")
    m = sqs.receive_message(QueueUrl=url, VisibilityTimeout=1, WaitTimeSeconds=2)["Messages"][0]
    with raises_code("ReceiptHandleIsInvalid"):
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle="forged", VisibilityTimeout=5)
    with raises_code("InvalidParameterValue"):
        sqs_raw.change_message_visibility(
            QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=43201
        )
    time.sleep(1.3)
    # The message is visible again: its old handle no longer refers to an in-flight message.
    with raises_code("AWS.SimpleQueueService.MessageNotInflight", sqs, "MessageNotInflight"):
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=5
        )


def test_change_visibility_batch(sqs, make_queue):
    url, _ = make_queue()
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"b{i}"} for i in range(3)]
    )
    got = receive_all(sqs, url, expect=3, delete=False, VisibilityTimeout=60)
    assert len(got) == 3
    resp = sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "b", "ReceiptHandle": got[1]["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "c", "ReceiptHandle": "forged", "VisibilityTimeout": 0},
        ],
    )
    assert sorted(e["Id"] for e in resp["Successful"]) == ["a", "b"]
    assert [f["Id"] for f in resp["Failed"]] == ["c"]
    assert resp["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    back = receive_all(sqs, url, expect=2, timeout=5)
    assert sorted(m["Body"] for m in back) == sorted([got[0]["Body"], got[1]["Body"]])
    with raises_code("AWS.SimpleQueueService.BatchEntryIdsNotDistinct"):
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": "x", "ReceiptHandle": "h", "VisibilityTimeout": 0},
                {"Id": "x", "ReceiptHandle": "h", "VisibilityTimeout": 0},
            ],
        )
