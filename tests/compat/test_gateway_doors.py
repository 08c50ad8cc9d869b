"""The chat gateway's doors against the real binary: webhooks refused with a reason and
nothing stored, the WhatsApp subscription handshake, the admin API, `lull conversations`,
the apps' queues, a bad lull.toml refused at start, and kill -9 with fragments buffered."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import time

import pytest
import requests

from conftest import LullServer, lull_binary, make_client
from gateway_fakes import start_gateway, telegram_text, whatsapp_text, zapi_text

CONFIG = """
[apps.zap]
platform = "zapi"
instance_id = "INST1"
token = "TOK"
base_url = "PLATFORM"
handler = "HANDLER/bot/zap"
[apps.zap.debounce]
window = "10s"
[apps.zap.handler_retry]
attempts = 3
timeout = "7s"

[apps.wa]
platform = "whatsapp"
phone_number_id = "1001"
access_token = "watoken"
app_secret = "wasecret"
verify_token = "vt"
base_url = "PLATFORM"
handler = "HANDLER/bot/wa"

[apps.tg]
platform = "telegram"
bot_token = "55:abc"
secret_token = "tgsecret"
base_url = "PLATFORM"
handler = "HANDLER/bot/tg"
"""


# A command handler: the handler call on stdin, the reply on stdout.
BOT = """
import json, sys
call = json.load(sys.stdin)
print(json.dumps({"reply": f"cmd {call['conversation']}: {call['text']}"}))
"""


@pytest.fixture(scope="module")
def gw(server_factory, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("doors")
    (tmp / "bot.py").write_text(BOT)
    command = f"""
[apps.cmd]
platform = "zapi"
instance_id = "INST1"
token = "TOK"
base_url = "PLATFORM"
handler = {{ command = [{json.dumps(sys.executable)}, {json.dumps(str(tmp / "bot.py"))}] }}
[apps.cmd.debounce]
window = "300ms"
"""
    g = start_gateway(server_factory, tmp, CONFIG + command)
    yield g
    g.handler.close()
    g.platform.close()


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def refused(r, status: int, reason: str):
    assert r.status_code == status, (r.status_code, r.text)
    assert reason in r.json()["error"], r.json()


def test_bad_webhooks_get_a_reason_and_store_nothing(gw):
    ep = gw.endpoint
    refused(gw.post("zap", raw=b"{not json"), 400, "not JSON")
    refused(gw.post("nope", zapi_text("5511", "oi", "x-1")), 404, "unknown app \"nope\"")
    big = json.dumps(zapi_text("5511000000001", "x" * (1024 * 1024 + 10), "big-1")).encode()
    refused(gw.post("zap", raw=big), 413, "larger than")
    # Under the body limit, but one message larger than half an inbox message.
    long = json.dumps(zapi_text("5511000000001", "x" * (600 * 1024), "long-1")).encode()
    refused(gw.post("zap", raw=long), 413, "a message is larger than")
    # WhatsApp: the X-Hub-Signature-256 of another secret, and none at all.
    body = json.dumps(whatsapp_text("1001", "5521900000009", "assinado errado", "wamid.bad")).encode()
    refused(gw.post("wa", raw=body, headers={"X-Hub-Signature-256": sign("other", body)}), 401, "does not match")
    refused(gw.post("wa", raw=body), 401, "missing")
    # Telegram: the wrong secret token.
    tg = telegram_text(731550219, "oi", 77)
    refused(gw.post("tg", tg, headers={"X-Telegram-Bot-Api-Secret-Token": "guess"}), 401, "does not match")
    # A payload the platform would not send: a Z-API callback of a message without a sender.
    no_phone = zapi_text("", "oi", "nophone-1")
    r = gw.post("zap", no_phone)
    assert r.status_code == 400, r.text
    # The seeds' endpoint without appId.
    refused(requests.post(f"{ep}/webhook", json=zapi_text("5511", "oi", "q-1"), timeout=5), 400, "appId")
    for app in ["zap", "wa", "tg"]:
        assert gw.conversations(app) == [], app
    # Properly signed, the same WhatsApp body is accepted.
    ok = gw.post("wa", raw=body, headers={"X-Hub-Signature-256": sign("wasecret", body)})
    assert ok.status_code == 200 and ok.json()["accepted"] == 1, ok.text


def test_the_seeds_query_form_and_the_admin_view_and_flush(gw):
    ep = gw.endpoint
    r = requests.post(f"{ep}/webhook?appId=zap", json=zapi_text("5511000000077", "pelo appId", "q-2"), timeout=5)
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    gw.post("zap", zapi_text("5511000000077", "e mais isso", "q-3"))
    [c] = gw.conversations("zap")
    assert (c["account"], c["conversation"], c["fragments"]) == ("INST1", "5511000000077", 2)
    assert c["texts"] == ["pelo appId", "e mais isso"]
    assert 8_000 < c["due_in_ms"] <= 10_000 and c["window_ms"] == 10_000
    # `lull conversations zap` prints the same as a table.
    out = subprocess.run(
        [str(lull_binary()), "conversations", "zap", "--endpoint", ep],
        capture_output=True, text=True, timeout=20,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:4] == ["CONVERSATION", "ACCOUNT", "FRAGMENTS", "DUE"]
    assert lines[1].split()[:3] == ["5511000000077", "INST1", "2"], out.stdout
    assert "e mais isso" in lines[1]
    bad = subprocess.run(
        [str(lull_binary()), "conversations", "ghost", "--endpoint", ep],
        capture_output=True, text=True, timeout=20,
    )
    assert bad.returncode != 0 and "unknown app" in bad.stderr, bad.stderr
    # Flushing hands it to the handler now instead of in 10 s.
    r = requests.post(f"{ep}/admin/apps/zap/conversations/5511000000077/flush", timeout=5)
    assert r.status_code == 200 and r.json()["flushed"] == ["INST1"], r.text
    call = gw.handler.wait("/bot/zap", 1, timeout=3)[0]
    assert call.json["text"] == "pelo appId\ne mais isso"
    r = requests.post(f"{ep}/admin/apps/zap/conversations/5511000000077/flush?account=INST1", timeout=5)
    refused(r, 404, "nothing is buffered")


def test_admin_lists_apps_with_their_queues(gw):
    r = requests.get(f"{gw.endpoint}/admin/apps", timeout=5)
    assert r.status_code == 200
    apps = {a["name"]: a for a in r.json()["apps"]}
    assert set(apps) == {"zap", "wa", "tg", "cmd"}
    assert apps["cmd"]["handler"]["command"][0] == sys.executable
    zap = apps["zap"]
    assert zap["platform"] == "zapi" and zap["handler"].endswith("/bot/zap")
    assert zap["stale_reply"] == "merge"
    assert zap["debounce"]["window_ms"] == 10_000 and zap["debounce"]["adaptive"] is None
    assert {k: v["name"] for k, v in zap["queues"].items()} == {
        "inbox": "zap-inbox.fifo",
        "outbox": "zap-outbox.fifo",
        "dlq": "zap-dlq.fifo",
    }
    assert zap["queues"]["inbox"]["url"].endswith("/123456789012/zap-inbox.fifo")
    # The queues are ordinary FIFO queues with the configured attempts and visibility.
    sqs = make_client(gw.endpoint)
    inbox = sqs.get_queue_url(QueueName="zap-inbox.fifo")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["All"])["Attributes"]
    assert attrs["FifoQueue"] == "true" and attrs["VisibilityTimeout"] == "12"
    policy = json.loads(attrs["RedrivePolicy"])
    assert policy["maxReceiveCount"] == 3 and policy["deadLetterTargetArn"].endswith(":zap-dlq.fifo")


def test_a_command_handler_answers_on_stdout(gw):
    gw.post("cmd", zapi_text("5511000000088", "oi", "cmd-1"))
    gw.post("cmd", zapi_text("5511000000088", "tudo bem?", "cmd-2"))
    sent = gw.platform.wait("/instances/INST1/token/TOK/send-text", where=lambda r: r.json["phone"] == "5511000000088")
    assert sent[0].json["message"] == "cmd 5511000000088: oi\ntudo bem?"


def test_the_whatsapp_subscription_handshake(gw):
    ep = gw.endpoint
    q = "hub.mode=subscribe&hub.verify_token=vt&hub.challenge=1158201444"
    r = requests.get(f"{ep}/webhooks/wa?{q}", timeout=5)
    assert r.status_code == 200 and r.text == "1158201444"
    r = requests.get(f"{ep}/webhook?appId=wa&{q}", timeout=5)
    assert r.status_code == 200 and r.text == "1158201444"
    r = requests.get(f"{ep}/webhooks/wa?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1", timeout=5)
    refused(r, 403, "verify_token")
    refused(requests.get(f"{ep}/webhooks/zap?{q}", timeout=5), 405, "no subscription handshake")
    refused(requests.get(f"{ep}/webhooks/ghost?{q}", timeout=5), 404, "unknown app")


def test_a_bad_config_is_refused_at_start_naming_each_key(tmp_path):
    config = tmp_path / "lull.toml"
    config.write_text(
        '[apps.a]\nplatform = "zapi"\nhandler = "ftp://x"\n'
        '[apps.a.debounce]\nwindow = "ten seconds"\n'
    )
    p = subprocess.run(
        [str(lull_binary()), "serve", "--listen", "127.0.0.1:0", "--data", str(tmp_path / "d"), "--config", str(config)],
        capture_output=True, text=True, timeout=20,
    )
    assert p.returncode != 0
    for needle in [str(config), "apps.a.instance_id: required", "apps.a.handler: expected an http:// or https:// URL", "apps.a.debounce.window: expected a duration"]:
        assert needle in p.stderr, p.stderr


def test_kill_9_with_fragments_buffered_loses_nothing(server_factory, tmp_path):
    config = """
[apps.durable]
platform = "zapi"
instance_id = "INST1"
token = "TOK"
base_url = "PLATFORM"
handler = "HANDLER/bot/durable"
[apps.durable.debounce]
window = "1500ms"
"""
    data = tmp_path / "data"
    g = start_gateway(server_factory, tmp_path, config, data_dir=data)
    try:
        for i, text in enumerate(["não", "me", "perca"]):
            r = g.post("durable", zapi_text("5511000000099", text, f"kill-{i}"))
            assert r.status_code == 200 and r.json()["accepted"] == 1
        g.server.kill()  # SIGKILL right after the last 200
        assert g.handler.seen("/bot/durable") == []
        again = server_factory(data, ["--config", str(g.config_path)])
        call = g.handler.wait("/bot/durable", 1, timeout=10)[0]
        assert call.json["text"] == "não\nme\nperca"
        time.sleep(0.5)
        assert len(g.handler.seen("/bot/durable")) == 1
        again.kill()
    finally:
        g.handler.close()
        g.platform.close()
