"""Durability of the real binary: SIGKILL in the middle of a stream of sends must lose no
acknowledged message (standard and FIFO, FIFO order per group intact); acknowledged
deletes stay deleted after SIGKILL; a clean stop and restart keeps queues, attributes,
tags and messages; FIFO deduplication survives a restart.

Each test runs its own servers (server_factory) on its own data directory, so these
tests are skipped when LULL_COMPAT_ENDPOINT points at an external server.
"""

import json
import threading
import time

from botocore.exceptions import BotoCoreError, ClientError

from compat_util import attrs, queue_arn, unique
from conftest import make_client

WRITE_SECONDS = 1.5


def _url(sqs, name):
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]


def _drain(sqs, url, quiet_rounds=2, limit_s=120.0):
    """Receive and delete until the queue stays empty; returns messages in arrival order."""
    out = []
    empty = 0
    deadline = time.monotonic() + limit_s
    while empty < quiet_rounds and time.monotonic() < deadline:
        msgs = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=120,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not msgs:
            empty += 1
            continue
        empty = 0
        out += msgs
        resp = sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)
            ],
        )
        assert not resp.get("Failed"), resp["Failed"]
    return out


class Writer(threading.Thread):
    """Sends numbered messages until stopped or the server goes away; records acks."""

    def __init__(self, endpoint, url, tag, stop, fifo=False, batch=False):
        super().__init__(daemon=True)
        self.client = make_client(endpoint, read_timeout=10)
        self.url, self.tag, self.stop, self.fifo, self.batch = url, tag, stop, fifo, batch
        self.acked: list[int] = []
        self.attempted = 0
        self.error = None

    def _body(self, i):
        return f"{self.tag}:{i}"

    def run(self):
        i = 0
        try:
            while not self.stop.is_set():
                if self.batch:
                    nums = list(range(i, i + 5))
                    entries = [{"Id": f"n{n}", "MessageBody": self._body(n)} for n in nums]
                    self.attempted = i + 5
                    resp = self.client.send_message_batch(QueueUrl=self.url, Entries=entries)
                    ok = {e["Id"] for e in resp.get("Successful", [])}
                    self.acked += [n for n in nums if f"n{n}" in ok]
                    i += 5
                else:
                    kw = {"QueueUrl": self.url, "MessageBody": self._body(i)}
                    if self.fifo:
                        kw["MessageGroupId"] = self.tag
                        kw["MessageDeduplicationId"] = f"{self.tag}-{i}"
                    self.attempted = i + 1
                    self.client.send_message(**kw)
                    self.acked.append(i)
                    i += 1
        except (BotoCoreError, ClientError, OSError) as e:
            # Expected once the server is killed.
            self.error = e


def test_kill9_loses_no_acknowledged_message(server_factory, tmp_path, wire):
    data = tmp_path / "data"
    srv = server_factory(data)
    sqs = make_client(srv.endpoint)
    std_name = unique("dur")
    fifo_name = unique("dur") + ".fifo"
    std_url = sqs.create_queue(QueueName=std_name)["QueueUrl"]
    fifo_url = sqs.create_queue(QueueName=fifo_name, Attributes={"FifoQueue": "true"})["QueueUrl"]

    stop = threading.Event()
    writers = [Writer(srv.endpoint, std_url, f"s{k}", stop) for k in range(2)]
    writers.append(Writer(srv.endpoint, std_url, "sb", stop, batch=True))
    writers += [Writer(srv.endpoint, fifo_url, f"g{k}", stop, fifo=True) for k in range(3)]
    for w in writers:
        w.start()
    time.sleep(WRITE_SECONDS)
    srv.kill()
    stop.set()
    for w in writers:
        w.join(timeout=30)
        assert not w.is_alive()

    total_acked = sum(len(w.acked) for w in writers)
    print(f"\nkill -9 after {WRITE_SECONDS}s of writing: {total_acked} sends acknowledged")
    assert total_acked >= 20, f"too few sends acknowledged before the kill: {total_acked}"
    for w in writers:
        assert w.acked, f"writer {w.tag} got no acknowledgement in {WRITE_SECONDS}s"

    srv2 = server_factory(data)
    sqs2 = make_client(srv2.endpoint)
    std = _drain(sqs2, _url(sqs2, std_name))
    fifo = _drain(sqs2, _url(sqs2, fifo_name))

    received: dict[str, list[int]] = {}
    for m in std + fifo:
        tag, num = m["Body"].split(":")
        received.setdefault(tag, []).append(int(num))
    report = []
    for w in writers:
        got = received.get(w.tag, [])
        missing = sorted(set(w.acked) - set(got))
        if missing:
            report.append(f"{w.tag}: {len(missing)} acked messages lost, e.g. {missing[:10]}")
        unknown = sorted(set(got) - set(range(w.attempted)))
        assert not unknown, f"{w.tag}: received messages never sent: {unknown[:10]}"
    assert not report, "; ".join(report)

    for w in writers:
        if not w.fifo:
            continue
        got = received.get(w.tag, [])
        assert got == sorted(got), f"group {w.tag} out of order after restart: {got[:50]}"
        assert len(got) == len(set(got)), f"group {w.tag} has duplicates despite deduplication ids"
        assert {
            m["Attributes"]["MessageGroupId"] for m in fifo if m["Body"].startswith(w.tag + ":")
        } == {w.tag}


def test_acknowledged_deletes_survive_kill9(server_factory, tmp_path, wire):
    data = tmp_path / "data"
    srv = server_factory(data)
    sqs = make_client(srv.endpoint)
    name = unique("deldur")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    for chunk in range(2):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": str(chunk * 10 + i)} for i in range(10)],
        )
    seen = {}
    deadline = time.monotonic() + 10
    while len(seen) < 20 and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=2).get(
            "Messages", []
        ):
            seen[int(m["Body"])] = m["ReceiptHandle"]
    assert len(seen) == 20
    # Evens below 10 one by one, the other evens through the batch call.
    for n in range(0, 10, 2):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=seen[n])
    resp = sqs.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": f"n{n}", "ReceiptHandle": seen[n]} for n in range(10, 20, 2)]
    )
    assert len(resp["Successful"]) == 5
    srv.kill()

    srv2 = server_factory(data)
    sqs2 = make_client(srv2.endpoint)
    url2 = _url(sqs2, name)
    time.sleep(2.2)  # the odd ones were in flight for 2 s when the server died
    got = sorted(int(m["Body"]) for m in _drain(sqs2, url2))
    assert got == [n for n in range(20) if n % 2 == 1]


def test_clean_restart_keeps_everything(server_factory, tmp_path, wire):
    data = tmp_path / "data"
    srv = server_factory(data)
    sqs = make_client(srv.endpoint)
    dlq_name, std_name, fifo_name = unique("rdlq"), unique("rstd"), unique("rfifo") + ".fifo"
    sqs.create_queue(QueueName=dlq_name)
    std_attrs = {
        "VisibilityTimeout": "77",
        "MessageRetentionPeriod": "7200",
        "MaximumMessageSize": "4096",
        "ReceiveMessageWaitTimeSeconds": "1",
        "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": queue_arn(dlq_name), "maxReceiveCount": 4}
        ),
    }
    std_url = sqs.create_queue(QueueName=std_name, Attributes=std_attrs, tags={"team": "core"})[
        "QueueUrl"
    ]
    fifo_url = sqs.create_queue(
        QueueName=fifo_name, Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    sqs.tag_queue(QueueUrl=fifo_url, Tags={"kind": "fifo"})
    ma = {
        "s": {"DataType": "String", "StringValue": "v"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }
    sent_std = {}
    for i in range(5):
        r = sqs.send_message(QueueUrl=std_url, MessageBody=f"std-{i}", MessageAttributes=ma)
        sent_std[r["MessageId"]] = f"std-{i}"
    for i in range(5):
        sqs.send_message(QueueUrl=fifo_url, MessageBody=f"fifo-{i}", MessageGroupId="g")
    before_std = attrs(sqs, std_url)
    before_fifo = attrs(sqs, fifo_url)

    code = srv.stop()
    assert code in (0, -15), f"unexpected exit status after SIGTERM: {code}"

    srv2 = server_factory(data)
    sqs2 = make_client(srv2.endpoint)
    std_url2, fifo_url2 = _url(sqs2, std_name), _url(sqs2, fifo_name)
    _url(sqs2, dlq_name)
    after_std = attrs(sqs2, std_url2)
    after_fifo = attrs(sqs2, fifo_url2)
    for key in list(std_attrs) + [
        "QueueArn",
        "CreatedTimestamp",
        "ApproximateNumberOfMessages",
        "DelaySeconds",
    ]:
        if key == "RedrivePolicy":
            assert json.loads(after_std[key]) == json.loads(before_std[key])
        else:
            assert after_std[key] == before_std[key], key
    for key in ["FifoQueue", "ContentBasedDeduplication", "QueueArn", "CreatedTimestamp"]:
        assert after_fifo[key] == before_fifo[key], key
    assert sqs2.list_queue_tags(QueueUrl=std_url2)["Tags"] == {"team": "core"}
    assert sqs2.list_queue_tags(QueueUrl=fifo_url2)["Tags"] == {"kind": "fifo"}
    assert std_url2 in sqs2.list_queues(QueueNamePrefix=std_name)["QueueUrls"]
    assert sqs2.list_dead_letter_source_queues(QueueUrl=_url(sqs2, dlq_name))["queueUrls"] == [
        std_url2
    ]

    std = _drain(sqs2, std_url2)
    assert {m["MessageId"]: m["Body"] for m in std} == sent_std
    for m in std:
        assert m["MessageAttributes"]["s"]["StringValue"] == "v"
        assert bytes(m["MessageAttributes"]["b"]["BinaryValue"]) == b"\x00\x01"
    fifo = _drain(sqs2, fifo_url2)
    assert [m["Body"] for m in fifo] == [f"fifo-{i}" for i in range(5)]
    srv2.stop()


def test_fifo_dedup_survives_restart(server_factory, tmp_path, wire):
    data = tmp_path / "data"
    srv = server_factory(data)
    sqs = make_client(srv.endpoint)
    name = unique("dedup") + ".fifo"
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]
    first = sqs.send_message(
        QueueUrl=url, MessageBody="once", MessageGroupId="g", MessageDeduplicationId="d1"
    )
    srv.kill()
    srv2 = server_factory(data)
    sqs2 = make_client(srv2.endpoint)
    url2 = _url(sqs2, name)
    again = sqs2.send_message(
        QueueUrl=url2, MessageBody="once", MessageGroupId="g", MessageDeduplicationId="d1"
    )
    assert again["MessageId"] == first["MessageId"]
    assert [m["Body"] for m in _drain(sqs2, url2)] == ["once"]
