"""aws-cli (`python -m awscli sqs ...`, the cli that ships with the installed botocore)
against lull: create-queue, send-message, receive-message, delete-message, list-queues,
get-queue-attributes, parsing the cli's JSON output.
"""

import json

from compat_util import md5_hex, unique


def test_cli_queue_lifecycle(aws_cli, wire):
    name = unique("cli")
    out, _ = aws_cli("create-queue", "--queue-name", name, "--attributes", "VisibilityTimeout=45")
    url = out["QueueUrl"]
    assert url.endswith("/123456789012/" + name)
    try:
        listed, _ = aws_cli("list-queues", "--queue-name-prefix", name)
        assert listed["QueueUrls"] == [url]
        got, _ = aws_cli("get-queue-url", "--queue-name", name)
        assert got["QueueUrl"] == url
        a, _ = aws_cli("get-queue-attributes", "--queue-url", url, "--attribute-names", "All")
        assert a["Attributes"]["VisibilityTimeout"] == "45"
        assert a["Attributes"]["QueueArn"] == f"arn:aws:sqs:us-east-1:123456789012:{name}"
    finally:
        aws_cli("delete-queue", "--queue-url", url)
    _, proc = aws_cli("get-queue-url", "--queue-name", name, check=False)
    assert proc.returncode != 0
    assert "NonExistentQueue" in proc.stderr or "QueueDoesNotExist" in proc.stderr


def test_cli_send_receive_delete(aws_cli, wire):
    name = unique("cli")
    url = aws_cli("create-queue", "--queue-name", name)[0]["QueueUrl"]
    try:
        body = '{"app_id": "demo", "text": "olá"}'
        sent, _ = aws_cli(
            "send-message",
            "--queue-url",
            url,
            "--message-body",
            body,
            "--message-attributes",
            '{"kind": {"DataType": "String", "StringValue": "greeting"}}',
        )
        assert sent["MD5OfMessageBody"] == md5_hex(body)
        assert sent["MessageId"]
        got, _ = aws_cli(
            "receive-message",
            "--queue-url",
            url,
            "--wait-time-seconds",
            "2",
            "--message-attribute-names",
            "All",
            "--attribute-names",
            "All",
        )
        msgs = got["Messages"]
        assert len(msgs) == 1
        m = msgs[0]
        assert m["Body"] == body
        assert m["MessageId"] == sent["MessageId"]
        assert m["MessageAttributes"]["kind"]["StringValue"] == "greeting"
        assert m["Attributes"]["ApproximateReceiveCount"] == "1"
        out, _ = aws_cli(
            "delete-message", "--queue-url", url, "--receipt-handle", m["ReceiptHandle"]
        )
        assert out is None
        a, _ = aws_cli(
            "get-queue-attributes",
            "--queue-url",
            url,
            "--attribute-names",
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
        )
        assert a["Attributes"] == {
            "ApproximateNumberOfMessages": "0",
            "ApproximateNumberOfMessagesNotVisible": "0",
        }
        empty, _ = aws_cli("receive-message", "--queue-url", url)
        assert not empty or not empty.get("Messages")
    finally:
        aws_cli("delete-queue", "--queue-url", url)


def test_cli_fifo_and_batch(aws_cli, wire):
    name = unique("cli") + ".fifo"
    url = aws_cli(
        "create-queue",
        "--queue-name",
        name,
        "--attributes",
        "FifoQueue=true,ContentBasedDeduplication=true",
    )[0]["QueueUrl"]
    try:
        entries = [{"Id": f"e{i}", "MessageBody": f"m{i}", "MessageGroupId": "g"} for i in range(3)]
        out, _ = aws_cli("send-message-batch", "--queue-url", url, "--entries", json.dumps(entries))
        assert sorted(e["Id"] for e in out["Successful"]) == ["e0", "e1", "e2"]
        got, _ = aws_cli(
            "receive-message",
            "--queue-url",
            url,
            "--max-number-of-messages",
            "10",
            "--wait-time-seconds",
            "1",
        )
        assert [m["Body"] for m in got["Messages"]] == ["m0", "m1", "m2"]
        aws_cli("purge-queue", "--queue-url", url)
    finally:
        aws_cli("delete-queue", "--queue-url", url)
