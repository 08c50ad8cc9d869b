#!/usr/bin/env python3
"""Prints SigV4-signed SQS requests, made by botocore, as Rust fixtures for src/auth/sigv4.rs.

Each fixture is the request exactly as botocore would put it on the wire (method, raw path,
raw query, headers, body) together with the instant it was signed at, so the verifier's tests
replay real client output instead of requests signed by the verifier's own code.

Run it once with a botocore that speaks SQS JSON 1.0 and once with one that speaks the query
protocol, and paste both outputs into `BOTOCORE_FIXTURES`:

    python3 scripts/gen_sigv4_fixtures.py
    .venvs/query/bin/python scripts/gen_sigv4_fixtures.py --client-only   # see scripts/pyenv.sh

Nothing is sent: a `before-send` hook captures the prepared request and answers it locally.
"""

import datetime
import sys
import types
from urllib.parse import urlsplit

import botocore
import botocore.auth
import botocore.session
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials

ACCESS_KEY = "AKIDLULLTEST0000001"
SECRET_KEY = "lull/test+secret/KEY0123456789abcdefghij"
REGION = "us-east-1"
ENDPOINT = "http://127.0.0.1:4566"
QUEUE_URL = ENDPOINT + "/123456789012/orders"
# Signing instant shared by every fixture: 2024-05-01T12:00:00Z.
SIGNED_AT = datetime.datetime(2024, 5, 1, 12, 0, 0)
SIGNED_AT_UNIX = 1714564800


class _FrozenDateTime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return SIGNED_AT

    @classmethod
    def now(cls, tz=None):
        return SIGNED_AT if tz is None else SIGNED_AT.replace(tzinfo=tz)


def freeze_clock():
    """Pins the signer's clock; botocore reads it in different places across versions."""
    if hasattr(botocore.auth, "get_current_datetime"):
        botocore.auth.get_current_datetime = lambda remove_tzinfo=True: SIGNED_AT
    botocore.auth.datetime = types.SimpleNamespace(datetime=_FrozenDateTime)


def captured(prepared):
    parts = urlsplit(prepared.url)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif hasattr(body, "read"):
        body = body.read()
    headers = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in prepared.headers.items()]
    # The HTTP client adds Host from the URL; botocore signed it the same way.
    if not any(k.lower() == "host" for k, _ in headers):
        headers.insert(0, ("Host", parts.netloc))
    return {
        "method": prepared.method,
        "path": parts.path or "/",
        "query": parts.query,
        "headers": headers,
        "body": body.decode("utf-8"),
    }


def client_fixtures():
    """Requests made by a real botocore SQS client, in whichever protocol this botocore speaks."""
    session = botocore.session.get_session()
    client = session.create_client(
        "sqs",
        region_name=REGION,
        endpoint_url=ENDPOINT,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    protocol = client.meta.service_model.protocol
    seen = []

    def answer(request, **_):
        seen.append(captured(request))
        body = b"{}" if protocol == "json" else b"<Response></Response>"
        raw = types.SimpleNamespace(stream=lambda **_: iter([body]))
        return AWSResponse(request.url, 200, {}, raw)

    client.meta.events.register("before-send", answer)

    calls = [
        ("create-queue", lambda: client.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "30"})),
        (
            "send-message",
            lambda: client.send_message(
                QueueUrl=QUEUE_URL,
                MessageBody='caf\u00e9 & "tea" 100% + more\n\tline two',
                MessageAttributes={"kind": {"DataType": "String", "StringValue": "a b/c"}},
            ),
        ),
        ("receive-message", lambda: client.receive_message(QueueUrl=QUEUE_URL, MaxNumberOfMessages=10, WaitTimeSeconds=0)),
    ]
    out = []
    for name, call in calls:
        try:
            call()
        except Exception:  # the empty local answer may not parse; the request was captured
            pass
        req = seen.pop()
        req["name"] = f"botocore-{botocore.__version__}-{protocol}-{name}"
        out.append(req)
    return out


def manual_fixtures():
    """Query-form and presigned requests signed directly with botocore's SigV4 signers."""
    creds = Credentials(ACCESS_KEY, SECRET_KEY)
    out = []

    form = AWSRequest(
        method="POST",
        url=QUEUE_URL,
        data="Action=SendMessage&MessageBody=hello%20world%20%2B%20%C3%A9&Version=2012-11-05",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    botocore.auth.SigV4Auth(creds, "sqs", REGION).add_auth(form)
    req = captured(form.prepare())
    req["name"] = "botocore-sigv4auth-query-form-post"
    out.append(req)

    get = AWSRequest(
        method="GET",
        url=ENDPOINT + "/",
        params={"Action": "ListQueues", "QueueNamePrefix": "ord ers~", "Version": "2012-11-05"},
    )
    botocore.auth.SigV4Auth(creds, "sqs", REGION).add_auth(get)
    req = captured(get.prepare())
    req["name"] = "botocore-sigv4auth-query-get"
    out.append(req)

    # With a Date header present botocore dates the request with it instead of X-Amz-Date.
    dated = AWSRequest(
        method="POST",
        url=ENDPOINT + "/",
        data="Action=ListQueues&Version=2012-11-05",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Date": "placeholder"},
    )
    botocore.auth.SigV4Auth(creds, "sqs", REGION).add_auth(dated)
    req = captured(dated.prepare())
    req["name"] = "botocore-sigv4auth-date-header"
    out.append(req)

    presign = AWSRequest(
        method="GET",
        url=QUEUE_URL,
        params={"Action": "GetQueueAttributes", "AttributeName.1": "All", "Version": "2012-11-05"},
    )
    botocore.auth.SigV4QueryAuth(creds, "sqs", REGION, expires=300).add_auth(presign)
    req = captured(presign.prepare())
    req["name"] = "botocore-sigv4queryauth-presigned-get"
    out.append(req)
    return out


def rust_str(s):
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) > 0x7E:
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def main():
    freeze_clock()
    fixtures = client_fixtures()
    # The hand-built requests come out identical under every botocore; emit them once.
    if "--client-only" not in sys.argv[1:]:
        fixtures += manual_fixtures()
    w = sys.stdout.write
    w(f"    // botocore {botocore.__version__}: scripts/gen_sigv4_fixtures.py\n")
    for f in fixtures:
        w("    Fixture {\n")
        w(f"        name: {rust_str(f['name'])},\n")
        w(f"        method: {rust_str(f['method'])},\n")
        w(f"        path: {rust_str(f['path'])},\n")
        w(f"        query: {rust_str(f['query'])},\n")
        w("        headers: &[\n")
        for k, v in f["headers"]:
            w(f"            ({rust_str(k)}, {rust_str(v)}),\n")
        w("        ],\n")
        w(f"        body: {rust_str(f['body'])},\n")
        w(f"        signed_at: {SIGNED_AT_UNIX},\n")
        w("    },\n")


if __name__ == "__main__":
    main()
