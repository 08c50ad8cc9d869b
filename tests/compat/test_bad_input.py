"""Bad input sent with plain HTTP (requests), in both SQS wire protocols whatever the
installed botocore speaks: malformed JSON, unknown actions, missing and mistyped
parameters, forged receipt handles, oversized and non-UTF-8 bodies. Each request must
get the protocol's error and leave the server serving and the stored queue unchanged.
Also checks the success and error envelopes the SDKs depend on.
"""

import json
import xml.etree.ElementTree as ET
from urllib.parse import urlparse

import pytest
import requests

from compat_util import ACCOUNT, attrs

JSON_CT = "application/x-amz-json-1.0"
# Unsigned servers accept any Authorization; the scope names the service, as SDKs send it.
AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKIDLULLTEST/20250101/us-east-1/sqs/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
)


def json_call(endpoint, target, body, extra_headers=None):
    headers = {"Content-Type": JSON_CT, "Authorization": AUTH}
    if target is not None:
        headers["X-Amz-Target"] = target
    headers.update(extra_headers or {})
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return requests.post(endpoint + "/", data=data, headers=headers, timeout=30)


def query_call(endpoint, params, path="/"):
    form = {"Version": "2012-11-05"}
    form.update(params)
    return requests.post(endpoint + path, data=form, headers={"Authorization": AUTH}, timeout=30)


def json_error_code(resp):
    """The code as an SDK derives it: the x-amzn-query-error header, else __type's shape."""
    header = resp.headers.get("x-amzn-query-error")
    if header:
        return header.split(";")[0]
    return resp.json().get("__type", "").split("#")[-1]


def _strip_ns(tag):
    return tag.split("}", 1)[-1]


def xml_find(root, name):
    for el in root.iter():
        if _strip_ns(el.tag) == name:
            return el
    return None


def query_error_code(resp):
    root = ET.fromstring(resp.content)
    assert _strip_ns(root.tag) == "ErrorResponse", resp.text
    return xml_find(root, "Code").text


@pytest.fixture
def sentinel(sqs, make_queue):
    """A queue holding one known message; `check()` asserts it is untouched."""
    url, name = make_queue(prefix="bad", attributes={"VisibilityTimeout": "33"})
    sqs.send_message(QueueUrl=url, MessageBody="sentinel")

    def check(endpoint):
        assert requests.get(endpoint + "/healthz", timeout=5).status_code == 200
        a = attrs(
            sqs,
            url,
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "VisibilityTimeout",
        )
        assert a == {
            "ApproximateNumberOfMessages": "1",
            "ApproximateNumberOfMessagesNotVisible": "0",
            "VisibilityTimeout": "33",
        }

    return url, name, check


def _bad_requests(url, name):
    """(id, protocol, callable(endpoint) -> response, expected status, expected code or None)."""
    t = "AmazonSQS."
    return [
        (
            "json-malformed",
            "json",
            lambda ep: json_call(ep, t + "SendMessage", '{"QueueUrl": "' + url),
            400,
            "SerializationException",
        ),
        (
            "json-not-object",
            "json",
            lambda ep: json_call(ep, t + "SendMessage", "[1, 2]"),
            400,
            None,
        ),
        (
            "json-bad-utf8",
            "json",
            lambda ep: json_call(ep, t + "SendMessage", b'{"QueueUrl": "\xff\xfe"}'),
            400,
            None,
        ),
        (
            "json-unknown-action",
            "json",
            lambda ep: json_call(ep, t + "Frobnicate", {"QueueUrl": url}),
            400,
            "UnknownOperationException",
        ),
        (
            "json-missing-body",
            "json",
            lambda ep: json_call(ep, t + "SendMessage", {"QueueUrl": url}),
            400,
            "MissingParameter",
        ),
        (
            "json-missing-queue-url",
            "json",
            lambda ep: json_call(ep, t + "SendMessage", {"MessageBody": "x"}),
            400,
            "MissingParameter",
        ),
        (
            "json-wrong-type",
            "json",
            lambda ep: json_call(
                ep, t + "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": "abc"}
            ),
            400,
            None,
        ),
        (
            "json-wrong-type-body",
            "json",
            lambda ep: json_call(
                ep, t + "SendMessage", {"QueueUrl": url, "MessageBody": {"nested": 1}}
            ),
            400,
            None,
        ),
        (
            "json-forged-handle",
            "json",
            lambda ep: json_call(
                ep, t + "DeleteMessage", {"QueueUrl": url, "ReceiptHandle": "forged=="}
            ),
            400,
            "ReceiptHandleIsInvalid",
        ),
        (
            "json-bad-attribute",
            "json",
            lambda ep: json_call(
                ep,
                t + "SetQueueAttributes",
                {"QueueUrl": url, "Attributes": {"VisibilityTimeout": "999999"}},
            ),
            400,
            "InvalidAttributeValue",
        ),
        (
            "json-purge-other",
            "json",
            lambda ep: json_call(ep, t + "PurgeQueue", {"QueueUrl": url + "-nope"}),
            400,
            "AWS.SimpleQueueService.NonExistentQueue",
        ),
        (
            "query-unknown-action",
            "query",
            lambda ep: query_call(ep, {"Action": "Frobnicate", "QueueUrl": url}),
            400,
            "InvalidAction",
        ),
        (
            "query-missing-body",
            "query",
            lambda ep: query_call(ep, {"Action": "SendMessage", "QueueUrl": url}),
            400,
            "MissingParameter",
        ),
        (
            "query-wrong-type",
            "query",
            lambda ep: query_call(
                ep, {"Action": "ReceiveMessage", "QueueUrl": url, "MaxNumberOfMessages": "abc"}
            ),
            400,
            None,
        ),
        (
            "query-forged-handle",
            "query",
            lambda ep: query_call(
                ep, {"Action": "DeleteMessage", "QueueUrl": url, "ReceiptHandle": "forged=="}
            ),
            400,
            "ReceiptHandleIsInvalid",
        ),
        (
            "query-bad-attribute",
            "query",
            lambda ep: query_call(
                ep,
                {
                    "Action": "SetQueueAttributes",
                    "QueueUrl": url,
                    "Attribute.1.Name": "VisibilityTimeout",
                    "Attribute.1.Value": "-5",
                },
            ),
            400,
            "InvalidAttributeValue",
        ),
        (
            "query-bad-batch",
            "query",
            lambda ep: query_call(
                ep,
                {
                    "Action": "SendMessageBatch",
                    "QueueUrl": url,
                    "SendMessageBatchRequestEntry.1.Id": "a",
                    "SendMessageBatchRequestEntry.1.MessageBody": "1",
                    "SendMessageBatchRequestEntry.2.Id": "a",
                    "SendMessageBatchRequestEntry.2.MessageBody": "2",
                },
            ),
            400,
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        ),
        (
            "query-path-unknown-queue",
            "query",
            lambda ep: query_call(
                ep, {"Action": "SendMessage", "MessageBody": "x"}, path=f"/{ACCOUNT}/{name}-nope"
            ),
            400,
            "AWS.SimpleQueueService.NonExistentQueue",
        ),
    ]


BAD_IDS = [b[0] for b in _bad_requests("u", "n")]


@pytest.mark.parametrize("case", BAD_IDS)
def test_bad_request_is_rejected_and_harmless(endpoint, sentinel, case, wire):
    url, name, check = sentinel
    _, proto, call, status, code = next(b for b in _bad_requests(url, name) if b[0] == case)
    resp = call(endpoint)
    assert resp.status_code == status, f"{case}: {resp.status_code} {resp.text[:300]}"
    if proto == "json":
        body = resp.json()
        assert "__type" in body, body
        if code is not None:
            got = json_error_code(resp)
            if code in ("SerializationException", "UnknownOperationException"):
                assert code in body["__type"] or got in (code, "InvalidAction"), body
            else:
                assert got == code, f"{case}: {resp.headers.get('x-amzn-query-error')} {body}"
    else:
        got = query_error_code(resp)
        if code is not None:
            assert got == code, resp.text
    check(endpoint)


def test_oversized_request_body(endpoint, sentinel, wire):
    url, _, check = sentinel
    body = json.dumps({"QueueUrl": url, "MessageBody": "x" * (3 * 1024 * 1024)})
    resp = json_call(endpoint, "AmazonSQS.SendMessage", body)
    assert 400 <= resp.status_code < 500
    check(endpoint)


def test_json_success_envelope(endpoint, sentinel, wire):
    url, name, _ = sentinel
    resp = json_call(endpoint, "AmazonSQS.GetQueueUrl", {"QueueName": name})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith(JSON_CT)
    assert resp.headers.get("x-amzn-RequestId")
    assert resp.json() == {"QueueUrl": url}


def test_json_modeled_error_envelope(endpoint, wire):
    resp = json_call(endpoint, "AmazonSQS.GetQueueUrl", {"QueueName": "does-not-exist-9876"})
    assert resp.status_code == 400
    assert resp.headers["Content-Type"].startswith(JSON_CT)
    body = resp.json()
    assert body["__type"].split("#")[-1] == "QueueDoesNotExist"
    assert body.get("message") or body.get("Message")
    assert (
        resp.headers.get("x-amzn-query-error") == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    )
    assert resp.headers.get("x-amzn-RequestId")


def test_query_success_envelope(endpoint, sentinel, wire):
    url, name, _ = sentinel
    resp = query_call(endpoint, {"Action": "GetQueueUrl", "QueueName": name})
    assert resp.status_code == 200
    assert "xml" in resp.headers["Content-Type"]
    root = ET.fromstring(resp.content)
    assert _strip_ns(root.tag) == "GetQueueUrlResponse"
    assert root.tag.startswith("{http://queue.amazonaws.com/doc/2012-11-05/}")
    assert xml_find(root, "QueueUrl").text == url
    assert xml_find(xml_find(root, "ResponseMetadata"), "RequestId").text


def test_query_error_envelope(endpoint, wire):
    resp = query_call(endpoint, {"Action": "GetQueueUrl", "QueueName": "does-not-exist-9876"})
    assert resp.status_code == 400
    root = ET.fromstring(resp.content)
    assert _strip_ns(root.tag) == "ErrorResponse"
    err = xml_find(root, "Error")
    assert xml_find(err, "Type").text == "Sender"
    assert xml_find(err, "Code").text == "AWS.SimpleQueueService.NonExistentQueue"
    assert xml_find(err, "Message").text
    assert xml_find(root, "RequestId").text


def test_query_on_queue_path(endpoint, sentinel, sqs, wire):
    url, name, _ = sentinel
    path = f"/{ACCOUNT}/{name}"
    resp = query_call(endpoint, {"Action": "SendMessage", "MessageBody": "via path"}, path=path)
    assert resp.status_code == 200, resp.text
    root = ET.fromstring(resp.content)
    assert _strip_ns(root.tag) == "SendMessageResponse"
    assert xml_find(root, "MessageId").text
    resp = query_call(
        endpoint,
        {"Action": "GetQueueAttributes", "AttributeName.1": "ApproximateNumberOfMessages"},
        path=path,
    )
    assert resp.status_code == 200, resp.text
    root = ET.fromstring(resp.content)
    pairs = {
        xml_find(a, "Name").text: xml_find(a, "Value").text
        for a in root.iter()
        if _strip_ns(a.tag) == "Attribute"
    }
    assert pairs == {"ApproximateNumberOfMessages": "2"}


def test_queue_url_follows_host_header(endpoint, sentinel, wire):
    _, name, _ = sentinel
    port = urlparse(endpoint).port
    host = {"Host": f"localhost:{port}"}
    resp = json_call(endpoint, "AmazonSQS.GetQueueUrl", {"QueueName": name}, host)
    assert resp.status_code == 200, resp.text
    assert resp.json()["QueueUrl"] == f"http://localhost:{port}/{ACCOUNT}/{name}"
    resp = requests.post(
        endpoint + "/",
        data={"Action": "GetQueueUrl", "QueueName": name, "Version": "2012-11-05"},
        headers={"Authorization": AUTH, **host},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    url = xml_find(ET.fromstring(resp.content), "QueueUrl").text
    assert url == f"http://localhost:{port}/{ACCOUNT}/{name}"


def test_healthz(endpoint):
    resp = requests.get(endpoint + "/healthz", timeout=5)
    assert resp.status_code == 200
    assert resp.text.strip() == "ok"
