"""SigV4 authentication with real clients: a server with access keys configured accepts requests
signed by a configured key and answers the AWS error codes otherwise; a server without keys
refuses to listen beyond loopback."""

from __future__ import annotations

import subprocess

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config

from compat_util import REGION, error_code, unique
from conftest import lull_binary

KEY_ID = "AKIDLULLAUTHTEST"
SECRET = "auth-test-secret"


@pytest.fixture(scope="module")
def secured(server_factory, tmp_path_factory):
    cfg = tmp_path_factory.mktemp("auth") / "lull.toml"
    cfg.write_text(
        "[[server.credentials]]\n"
        f'access_key_id = "{KEY_ID}"\n'
        'secret_access_key = "${LULL_AUTH_TEST_SECRET}"\n'
    )
    import os

    os.environ["LULL_AUTH_TEST_SECRET"] = SECRET
    return server_factory(extra_args=["--config", str(cfg)]).endpoint


def client(endpoint, key_id=KEY_ID, secret=SECRET, **cfg):
    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, **cfg),
    )


def test_signed_requests_with_a_configured_key_work(secured):
    sqs = client(secured)
    url = sqs.create_queue(QueueName=unique("auth"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="signed ✓ + % &")
    msgs = sqs.receive_message(QueueUrl=url, AttributeNames=["SenderId"])["Messages"]
    assert msgs[0]["Body"] == "signed ✓ + % &"
    assert msgs[0]["Attributes"]["SenderId"] == KEY_ID


@pytest.mark.parametrize(
    "key_id,secret,code",
    [
        (KEY_ID, "wrong-secret", "SignatureDoesNotMatch"),
        ("AKIDUNKNOWN", SECRET, "InvalidClientTokenId"),
    ],
)
def test_bad_credentials_are_refused(secured, key_id, secret, code):
    sqs = client(secured, key_id, secret)
    with pytest.raises(Exception) as info:
        sqs.list_queues()
    assert error_code(info.value) == code
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unsigned_requests_are_refused(secured):
    sqs = boto3.client(
        "sqs",
        endpoint_url=secured,
        region_name=REGION,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )
    with pytest.raises(Exception) as info:
        sqs.list_queues()
    assert error_code(info.value) == "MissingAuthenticationToken"


def test_refused_request_changes_nothing(secured):
    good = client(secured)
    url = good.create_queue(QueueName=unique("untouched"))["QueueUrl"]
    bad = client(secured, KEY_ID, "wrong-secret")
    with pytest.raises(Exception):
        bad.send_message(QueueUrl=url, MessageBody="forged")
    with pytest.raises(Exception):
        bad.delete_queue(QueueUrl=url)
    attrs = good.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert requests.get(f"{secured}/healthz", timeout=5).text == "ok"


def test_refuses_non_loopback_listen_without_credentials(tmp_path):
    out = subprocess.run(
        [str(lull_binary()), "serve", "--listen", "0.0.0.0:0", "--data", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode != 0
    assert "refusing to listen" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
