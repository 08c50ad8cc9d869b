"""The chat gateway end to end, against the real binary: platform webhooks in, the debouncer,
the handler (a fake HTTP server), replies out through the platform's send API (another fake),
the apps' queues seen with boto3. Windows are short (300-800 ms) to keep the suite fast."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from conftest import make_client
from gateway_fakes import (
    handler_text,
    start_gateway,
    telegram_text,
    whatsapp_text,
    zapi_image,
    zapi_text,
    zapi_typing,
)

ZAPI = """
platform = "zapi"
instance_id = "INST1"
token = "TOK"
client_token = "CT"
base_url = "PLATFORM"
"""

CONFIG = f"""
[apps.burst]
{ZAPI}
handler = "HANDLER/bot/burst"
[apps.burst.debounce]
window = "500ms"
max_wait = "5s"

[apps.wa]
platform = "whatsapp"
phone_number_id = "1001"
access_token = "watoken"
app_secret = "wasecret"
verify_token = "vt"
base_url = "PLATFORM"
handler = "HANDLER/bot/wa"
[apps.wa.debounce]
window = "400ms"

[apps.tg]
platform = "telegram"
bot_token = "55:abc"
secret_token = "tgsecret"
base_url = "PLATFORM"
handler = "HANDLER/bot/tg"
[apps.tg.debounce]
window = "300ms"

[apps.capped]
{ZAPI}
handler = "HANDLER/bot/capped"
[apps.capped.debounce]
window = "400ms"
max_wait = "1s"

[apps.retry]
{ZAPI}
handler = "HANDLER/bot/retry"
[apps.retry.debounce]
window = "300ms"
[apps.retry.handler_retry]
attempts = 4
backoff_base = "200ms"
backoff_max = "400ms"
timeout = "2s"

[apps.doomed]
{ZAPI}
handler = "HANDLER/bot/doomed"
[apps.doomed.debounce]
window = "300ms"
[apps.doomed.handler_retry]
attempts = 2
backoff_base = "100ms"
backoff_max = "200ms"

[apps.stale-send]
{ZAPI}
handler = "HANDLER/bot/stale-send"
stale_reply = "send"
[apps.stale-send.debounce]
window = "800ms"

[apps.stale-drop]
{ZAPI}
handler = "HANDLER/bot/stale-drop"
stale_reply = "drop"
[apps.stale-drop.debounce]
window = "800ms"

[apps.stale-merge]
{ZAPI}
handler = "HANDLER/bot/stale-merge"
stale_reply = "merge"
[apps.stale-merge.debounce]
window = "800ms"

[apps.media]
{ZAPI}
handler = "HANDLER/bot/media"
[apps.media.debounce]
window = "3s"
media = "flush"

[apps.typing]
{ZAPI}
handler = "HANDLER/bot/typing"
[apps.typing.debounce]
window = "500ms"
typing_extend = "1500ms"

[apps.fixed]
{ZAPI}
handler = "HANDLER/bot/fixed"
[apps.fixed.debounce]
window = "500ms"
max_wait = "10s"

[apps.adaptive]
{ZAPI}
handler = "HANDLER/bot/adaptive"
[apps.adaptive.debounce]
window = "500ms"
max_wait = "10s"
adaptive = {{ min_window = "300ms", max_window = "3s", factor = 2.5 }}

[apps.outbound]
{ZAPI}
[apps.outbound.sender]
attempts = 3
backoff_base = "200ms"
backoff_max = "400ms"
"""

SEND_TEXT = "/instances/INST1/token/TOK/send-text"


@pytest.fixture(scope="module")
def gw(server_factory, tmp_path_factory):
    g = start_gateway(server_factory, tmp_path_factory.mktemp("gw"), CONFIG)
    yield g
    g.handler.close()
    g.platform.close()


def reply(text):
    return lambda req: (200, {}, {"reply": text})


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_signed_whatsapp(gw, payload):
    body = json.dumps(payload).encode()
    return gw.post("wa", raw=body, headers={"X-Hub-Signature-256": sign("wasecret", body)})


def quiet(gw, prefix: str, seconds: float, count: int):
    """Waits `seconds` and checks no more than `count` requests reached `prefix`."""
    time.sleep(seconds)
    got = gw.handler.seen(prefix) + gw.platform.seen(prefix)
    assert len(got) == count, [handler_text(r) or r.body for r in got]


def test_a_burst_becomes_one_call_after_the_window_and_senders_never_mix(gw):
    gw.handler.on("/bot/burst", lambda req: (200, {}, {"reply": f"resposta para {req.json['conversation']}"}))
    last_post = 0.0
    for i, text in enumerate(["oi", "tudo bem?", "quanto custa o plano?"]):
        last_post = time.monotonic()
        r = gw.post("burst", zapi_text("5511000000001", text, f"burst-a-{i}"))
        assert r.status_code == 200, r.text
        assert r.json() == {"accepted": 1, "duplicates": 0, "ignored": 0, "typing": 0}
        assert gw.post("burst", zapi_text("5511000000002", f"outro {i}", f"burst-b-{i}")).status_code == 200
        time.sleep(0.1)
    calls = gw.handler.wait("/bot/burst", 2)
    by_sender = {c.json["conversation"]: c for c in calls}
    first = by_sender["5511000000001"]
    assert first.json["text"] == "oi\ntudo bem?\nquanto custa o plano?"
    assert [m["text"] for m in first.json["messages"]] == ["oi", "tudo bem?", "quanto custa o plano?"]
    assert first.json["app"] == "burst" and first.json["platform"] == "zapi"
    assert first.json["account"] == "INST1"
    assert first.at - last_post >= 0.5 - 0.02, first.at - last_post
    assert by_sender["5511000000002"].json["text"] == "outro 0\noutro 1\noutro 2"
    # Each reply reaches Z-API's send-text with the account's Client-Token.
    sent = gw.platform.wait(SEND_TEXT, 2, where=lambda r: r.json["phone"] in by_sender)
    assert {r.json["phone"]: r.json["message"] for r in sent} == {
        "5511000000001": "resposta para 5511000000001",
        "5511000000002": "resposta para 5511000000002",
    }
    assert all(r.header("Client-Token") == "CT" for r in sent)
    quiet(gw, "/bot/burst", 0.7, 2)


def test_two_business_numbers_keep_separate_conversations_and_reply_from_their_own(gw):
    gw.handler.on("/bot/wa", lambda req: (200, {}, {"reply": [f"via {req.json['account']}"]}))
    contact = "5521900000001"
    assert post_signed_whatsapp(gw, whatsapp_text("1001", contact, "para o numero A", "wamid.A1")).status_code == 200
    assert post_signed_whatsapp(gw, whatsapp_text("1002", contact, "para o numero B", "wamid.B1")).status_code == 200
    calls = gw.handler.wait("/bot/wa", 2)
    texts = {c.json["account"]: c.json["text"] for c in calls}
    assert texts == {"1001": "para o numero A", "1002": "para o numero B"}
    sent = gw.platform.wait("/v21.0/", 2)
    by_path = {r.path: r for r in sent}
    assert set(by_path) == {"/v21.0/1001/messages", "/v21.0/1002/messages"}
    a = by_path["/v21.0/1001/messages"]
    assert a.header("Authorization") == "Bearer watoken"
    assert a.json == {"messaging_product": "whatsapp", "to": contact, "type": "text", "text": {"body": "via 1001"}}


def test_telegram_reply_goes_to_send_message(gw):
    gw.handler.on("/bot/tg", reply("olá do bot"))
    r = gw.post("tg", telegram_text(731550219, "oi bot", 9001), headers={"X-Telegram-Bot-Api-Secret-Token": "tgsecret"})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    call = gw.handler.wait("/bot/tg")[0]
    assert call.json["account"] == "55" and call.json["conversation"] == "731550219"
    sent = gw.platform.wait("/bot55:abc/sendMessage")[0]
    assert sent.json == {"chat_id": 731550219, "text": "olá do bot"}


def test_max_wait_caps_an_endless_burst(gw):
    started = time.monotonic()
    for i in range(10):  # one fragment every 200 ms for 2 s; the window (400 ms) never passes
        gw.post("capped", zapi_text("5511000000003", f"parte {i}", f"cap-{i}"))
        time.sleep(0.2)
    first = gw.handler.wait("/bot/capped", 1, timeout=5)[0]
    assert first.at - started < 1.0 + 0.35, first.at - started
    calls = gw.handler.wait("/bot/capped", 2, timeout=5)
    joined = "\n".join(handler_text(c) for c in calls)
    assert joined == "\n".join(f"parte {i}" for i in range(10))


def test_a_redelivered_message_is_buffered_once(gw):
    gw.handler.on("/bot/burst", lambda req: (200, {}, {}))
    msg = zapi_text("5511000000004", "uma vez só", "dup-1")
    assert gw.post("burst", msg).json() == {"accepted": 1, "duplicates": 0, "ignored": 0, "typing": 0}
    assert gw.post("burst", msg).json() == {"accepted": 0, "duplicates": 1, "ignored": 0, "typing": 0}
    calls = gw.handler.wait("/bot/burst", 1, where=lambda r: r.json["conversation"] == "5511000000004")
    assert calls[0].json["text"] == "uma vez só"
    # Also after the flush: platforms redeliver for hours.
    assert gw.post("burst", msg).json()["duplicates"] == 1
    time.sleep(0.8)
    assert len(gw.handler.seen("/bot/burst", where=lambda r: r.json["conversation"] == "5511000000004")) == 1


def test_a_failing_handler_is_retried_with_backoff_then_delivered_once(gw):
    attempts = []

    def flaky(req):
        attempts.append(req)
        return (500, {}, "boom") if len(attempts) < 3 else (200, {}, {"reply": "finalmente"})

    gw.handler.on("/bot/retry", flaky)
    gw.post("retry", zapi_text("5511000000005", "tenta de novo", "retry-1"))
    calls = gw.handler.wait("/bot/retry", 3, timeout=10)
    assert [c.header("X-Lull-Attempt") for c in calls] == ["1", "2", "3"]
    assert all(c.json["text"] == "tenta de novo" for c in calls)
    # Backed off: at least half the base (jitter) before the second attempt.
    assert calls[1].at - calls[0].answered_at >= 0.1
    sent = gw.platform.wait(SEND_TEXT, where=lambda r: r.json["phone"] == "5511000000005")
    assert [r.json["message"] for r in sent] == ["finalmente"]
    quiet(gw, "/bot/retry", 1.0, 3)


def test_a_handler_that_always_fails_dead_letters_the_batch(gw):
    gw.handler.on("/bot/doomed", lambda req: (503, {}, "down"))
    gw.post("doomed", zapi_text("5511000000006", "ninguém responde", "doomed-1"))
    gw.handler.wait("/bot/doomed", 2)
    sqs = make_client(gw.endpoint)
    url = sqs.get_queue_url(QueueName="doomed-dlq.fifo")["QueueUrl"]
    got = []
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, AttributeNames=["All"]).get("Messages", [])
    assert got, "nothing in doomed-dlq.fifo"
    body = json.loads(got[0]["Body"])
    assert body["text"] == "ninguém responde" and body["conversation"] == "5511000000006"
    assert got[0]["Attributes"]["MessageGroupId"] == "INST1:5511000000006"
    assert len(gw.handler.seen("/bot/doomed")) == 2
    attrs = sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName="doomed-inbox.fifo")["QueueUrl"], AttributeNames=["RedrivePolicy"])
    assert json.loads(attrs["Attributes"]["RedrivePolicy"])["maxReceiveCount"] == 2


def stale_run(gw, app: str, phone: str):
    """The handler takes 1.5 s over "primeira"; the person writes "segunda" 1 s into it, so the
    reply would answer a conversation that moved on. Returns the handler calls and the texts
    sent to the person."""
    started = []

    def slow(req):
        text = req.json["text"]
        if text == "primeira":
            started.append(time.monotonic())
            time.sleep(1.5)
        return (200, {}, {"reply": f"resposta a: {text}"})

    gw.handler.on(f"/bot/{app}", slow)
    gw.post(app, zapi_text(phone, "primeira", f"{app}-1"))
    deadline = time.monotonic() + 5
    while not started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert started, "the handler was not called"
    time.sleep(max(0.0, started[0] + 1.0 - time.monotonic()))
    gw.post(app, zapi_text(phone, "segunda", f"{app}-2"))
    return started


def sent_to(gw, phone):
    return [r.json["message"] for r in gw.platform.seen(SEND_TEXT, where=lambda r: r.json["phone"] == phone)]


def test_stale_replies_send_drop_or_merge(gw):
    # The three policies run side by side.
    for app, phone in [("stale-send", "5511000000010"), ("stale-drop", "5511000000011"), ("stale-merge", "5511000000012")]:
        stale_run(gw, app, phone)
    time.sleep(0.2)
    for app in ["stale-send", "stale-drop", "stale-merge"]:
        gw.handler.wait(f"/bot/{app}", 2, timeout=6)
    time.sleep(0.6)
    texts = lambda app: [handler_text(r) for r in gw.handler.seen(f"/bot/{app}")]
    assert texts("stale-send") == ["primeira", "segunda"]
    assert sent_to(gw, "5511000000010") == ["resposta a: primeira", "resposta a: segunda"]
    assert texts("stale-drop") == ["primeira", "segunda"]
    assert sent_to(gw, "5511000000011") == ["resposta a: segunda"]
    # Merge: the first batch comes back in front of the new fragment, answered once.
    assert texts("stale-merge") == ["primeira", "primeira\nsegunda"]
    assert sent_to(gw, "5511000000012") == ["resposta a: primeira\nsegunda"]


def test_media_with_the_flush_policy_hands_the_batch_on_at_once(gw):
    gw.post("media", zapi_text("5511000000020", "olha isso", "media-1"))
    posted = time.monotonic()
    gw.post("media", zapi_image("5511000000020", "chegou assim", "media-2"))
    call = gw.handler.wait("/bot/media", 1, timeout=3)[0]
    assert call.at - posted < 1.0  # the window is 3 s
    assert [m["type"] for m in call.json["messages"]] == ["text", "image"]
    assert call.json["text"] == "olha isso\nchegou assim"
    assert call.json["messages"][1]["parts"][0]["kind"] == "image"


def test_zapi_typing_pushes_the_due_time(gw):
    r = gw.post("typing", zapi_text("5511000000030", "deixa eu pensar", "typing-1"))
    first = time.monotonic()
    time.sleep(0.3)
    r = gw.post("typing", zapi_typing("5511000000030", "COMPOSING"))
    assert r.json() == {"accepted": 0, "duplicates": 0, "ignored": 0, "typing": 1}
    typed = time.monotonic()
    call = gw.handler.wait("/bot/typing", 1, timeout=5)[0]
    # Without the signal it would have gone at first + 0.5 s.
    assert call.at - typed >= 1.5 - 0.05, call.at - typed
    assert call.at - first > 1.5


def test_adaptive_mode_learns_a_slow_typer_and_fixed_mode_splits(gw):
    gap = 0.8  # longer than the 500 ms window of both apps

    def burst(words, prefix):
        for i, w in enumerate(words):
            for app, phone in [("fixed", "5511000000040"), ("adaptive", "5511000000041")]:
                gw.post(app, zapi_text(phone, w, f"{prefix}-{app}-{i}"))
            if i + 1 < len(words):
                time.sleep(gap)

    burst(["eu", "queria", "saber"], "train")  # teaches the adaptive app: 2 gaps of 0.8 s
    # The learned window is 2 s (2.5 × 0.8); a pause longer than max_window (3 s) is not a gap
    # within a burst, so it does not change what was learned.
    time.sleep(3.2)
    before = {app: len(gw.handler.seen(f"/bot/{app}")) for app in ["fixed", "adaptive"]}
    assert before == {"fixed": 3, "adaptive": 3}, before  # the training burst: split in both
    burst(["quanto", "custa", "o plano?"], "test")
    gw.handler.wait("/bot/fixed", before["fixed"] + 3, timeout=3)
    gw.handler.wait("/bot/adaptive", before["adaptive"] + 1, timeout=4)
    time.sleep(0.3)
    after = {app: [handler_text(r) for r in gw.handler.seen(f"/bot/{app}")][before[app]:] for app in ["fixed", "adaptive"]}
    assert after["fixed"] == ["quanto", "custa", "o plano?"]
    assert after["adaptive"] == ["quanto\ncusta\no plano?"]


def test_the_seeds_outbound_json_sent_with_boto3_reaches_the_platform(gw):
    sqs = make_client(gw.endpoint)
    url = sqs.get_queue_url(QueueName="outbound-outbox.fifo")["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps({"app_id": "outbound", "phone_number": "5511996534923", "message_to_send": "Olá, da AWS"}),
        MessageGroupId="5511996534923",
        MessageDeduplicationId="seed-1",
    )
    sent = gw.platform.wait(SEND_TEXT, where=lambda r: r.json["phone"] == "5511996534923")
    assert sent[0].json == {"phone": "5511996534923", "message": "Olá, da AWS"}
    assert sent[0].header("Client-Token") == "CT"


def test_a_throttled_send_honours_retry_after(gw):
    tries = []

    def throttle_once(req):
        if req.json.get("phone") != "5511000000050":
            return (200, {}, {})
        tries.append(req)
        return (429, {"Retry-After": "1"}, {"error": "slow down"}) if len(tries) == 1 else (200, {}, {"id": "ok"})

    gw.platform.on(SEND_TEXT, throttle_once)
    sqs = make_client(gw.endpoint)
    url = sqs.get_queue_url(QueueName="outbound-outbox.fifo")["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps({"app_id": "outbound", "phone_number": "5511000000050", "message_to_send": "devagar"}),
        MessageGroupId="5511000000050",
        MessageDeduplicationId="throttle-1",
    )
    got = gw.platform.wait(SEND_TEXT, 2, timeout=6, where=lambda r: r.json.get("phone") == "5511000000050")
    assert got[1].at - got[0].answered_at >= 1.0 - 0.05
    time.sleep(0.5)
    assert len(tries) == 2


def test_an_outbox_message_the_platform_refuses_is_dead_lettered_with_the_reason(gw):
    gw.platform.on(SEND_TEXT, lambda req: (400, {}, {"error": "invalid phone"}) if req.json.get("phone") == "000" else (200, {}, {}))
    sqs = make_client(gw.endpoint)
    out = sqs.get_queue_url(QueueName="outbound-outbox.fifo")["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName="outbound-dlq.fifo")["QueueUrl"]
    for i, body in enumerate(["not json", json.dumps({"app_id": "outbound", "phone_number": "000", "message_to_send": "x"})]):
        sqs.send_message(QueueUrl=out, MessageBody=body, MessageGroupId=f"bad-{i}", MessageDeduplicationId=f"bad-{i}")
    got = []
    deadline = time.monotonic() + 8
    while len(got) < 2 and time.monotonic() < deadline:
        got += sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])
    reasons = sorted(m["MessageAttributes"]["lull.reason"]["StringValue"] for m in got)
    assert len(reasons) == 2, reasons
    assert "not JSON" in reasons[0]
    assert "platform answered 400" in reasons[1] and "invalid phone" in reasons[1]
    assert all(m["MessageAttributes"]["lull.source"]["StringValue"] == "outbound-outbox.fifo" for m in got)
