"""Helpers shared by the SQS compatibility tests (imported by the test modules)."""

from __future__ import annotations

import hashlib
import struct
import time
import uuid
from contextlib import contextmanager

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
REGION = "us-east-1"


def unique(prefix: str = "q") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def attrs(sqs, url: str, *names: str) -> dict:
    resp = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names) or ["All"])
    # SQS leaves the key out when none of the names has a value (e.g. Policy unset).
    return resp.get("Attributes", {})


def error_code(exc) -> str:
    return exc.response["Error"]["Code"]


def receive_all(sqs, url, expect: int | None = None, timeout: float = 10.0, delete=True, **kw):
    """Receive until `expect` messages arrived (or the queue stays empty once `expect` is None)."""
    got = []
    deadline = time.monotonic() + timeout
    kw.setdefault("MaxNumberOfMessages", 10)
    kw.setdefault("WaitTimeSeconds", 1)
    while time.monotonic() < deadline:
        msgs = sqs.receive_message(QueueUrl=url, **kw).get("Messages", [])
        for m in msgs:
            got.append(m)
            if delete:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if expect is not None and len(got) >= expect:
            break
        if expect is None and not msgs:
            break
    return got


# ---------------------------------------------------------------- MD5s as SQS defines them


def md5_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.md5(data).hexdigest()


def md5_of_attributes(attributes: dict) -> str:
    """MD5 over message attributes: names sorted; each name, data type and value
    length-prefixed (4 bytes big-endian); a transport byte 1 (string) or 2 (binary)."""
    buf = bytearray()

    def put(b: bytes):
        buf.extend(struct.pack(">I", len(b)))
        buf.extend(b)

    for name in sorted(attributes):
        value = attributes[name]
        put(name.encode("utf-8"))
        put(value["DataType"].encode("utf-8"))
        if "StringValue" in value:
            buf.append(1)
            put(value["StringValue"].encode("utf-8"))
        elif "BinaryValue" in value:
            buf.append(2)
            put(bytes(value["BinaryValue"]))
        else:
            raise ValueError(f"attribute {name} has no value")
    return hashlib.md5(bytes(buf)).hexdigest()


@contextmanager
def raises_code(code: str, client=None, shape: str | None = None, status: int | None = None):
    """Expect a ClientError whose code (as boto3 exposes it) is `code`.

    SQS codes are the query protocol's (e.g. AWS.SimpleQueueService.NonExistentQueue);
    over JSON 1.0 the server sends them in the x-amzn-query-error header and botocore
    maps them back, so the same assertion holds for both protocols. `shape` also checks
    the modeled exception class (client.exceptions.<shape>).
    """
    with pytest.raises(ClientError) as info:
        yield info
    err = info.value
    got = err.response["Error"]["Code"]
    assert got == code, f"expected error code {code!r}, got {got!r}: {err}"
    if client is not None and shape is not None:
        cls = getattr(client.exceptions, shape)
        assert isinstance(err, cls), f"expected {shape} exception, got {type(err).__name__}"
    if status is not None:
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == status
