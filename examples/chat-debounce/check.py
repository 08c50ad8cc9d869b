"""The flow `run` checks, from the outside:

1. A burst of three Z-API `ReceivedCallback` webhooks from one phone reaches the bot as one
   conversation, its text the fragments joined with newlines.
2. The bot's reply goes out through Z-API exactly once, to that phone.
3. The seed's outbound JSON `{"app_id", "phone_number", "message_to_send"}`, sent with boto3
   to `patricia-outbox.fifo`, is delivered through Z-API.

Needs AWS_ENDPOINT_URL (lull), SENT_LOG (the fake Z-API's log) and BOT_LOG. Exits non-zero
with the reason on any mismatch.
"""

import json
import os
import sys
import time
import urllib.request
import uuid

import boto3

APP = "patricia"
PHONE = "5521912340001"
BURST = ["oi", "tudo bem?", "quanto custa o plano?"]
WINDOW = 2.0  # [apps.patricia.debounce] window
DEADLINE = 20.0


def fail(why: str) -> None:
    print(f"chat-debounce: FAIL: {why}", file=sys.stderr)
    sys.exit(1)


def lines(path: str) -> list:
    try:
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def received_callback(text: str, n: int) -> bytes:
    """A Z-API text webhook, shaped like tests/fixtures/webhooks/zapi/text.json."""
    return json.dumps(
        {
            "isStatusReply": False,
            "connectedPhone": "5511930001000",
            "waitingMessage": False,
            "isEdit": False,
            "isGroup": False,
            "isNewsletter": False,
            "instanceId": "3C91F0A7B2D84E6C9A15E0D2B7F4A831",
            "messageId": f"3EB0{uuid.uuid4().hex[:16].upper()}",
            "phone": PHONE,
            "fromMe": False,
            "momment": int(time.time() * 1000) + n,
            "status": "RECEIVED",
            "chatName": "Marina Costa",
            "senderName": "Marina Costa",
            "broadcast": False,
            "type": "ReceivedCallback",
            "text": {"message": text},
        }
    ).encode()


def post_webhook(endpoint: str, body: bytes) -> None:
    request = urllib.request.Request(
        f"{endpoint}/webhook?appId={APP}",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        if not 200 <= response.status < 300:
            fail(f"webhook answered {response.status}")


def wait_for(what: str, ready) -> None:
    start = time.monotonic()
    while not ready():
        if time.monotonic() - start > DEADLINE:
            fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def main() -> None:
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    sent_log, bot_log = os.environ["SENT_LOG"], os.environ["BOT_LOG"]

    # 1-2: a burst, typed faster than the debounce window.
    for n, fragment in enumerate(BURST):
        post_webhook(endpoint, received_callback(fragment, n))
        time.sleep(WINDOW / 8)
    wait_for("the bot's reply at Z-API", lambda: lines(sent_log))
    # Long enough for a second, wrong, flush of the same conversation to show up.
    time.sleep(WINDOW * 2)
    calls = lines(bot_log)
    if len(calls) != 1:
        texts = [c.get("text") for c in calls]
        fail(f"the bot was called {len(calls)} times, expected once; texts: {texts}")
    call = calls[0]
    joined = "\n".join(BURST)
    if call.get("text") != joined or [m.get("text") for m in call.get("messages", [])] != BURST:
        fail(f"the bot got {call}, expected the text {joined!r} from three fragments")
    sent = lines(sent_log)
    expected = {"phone": PHONE, "message": f"Recebi: {joined}"}
    if [s["body"] for s in sent] != [expected]:
        fail(f"Z-API got {sent}, expected exactly one {expected}")

    # 3: the seed's outbound format, straight onto the outbox with any SQS client.
    sqs = boto3.client("sqs")
    outbox = sqs.get_queue_url(QueueName=f"{APP}-outbox.fifo")["QueueUrl"]
    outbound = {"app_id": APP, "phone_number": "5511996534923", "message_to_send": "Olá, da AWS"}
    sqs.send_message(
        QueueUrl=outbox,
        MessageBody=json.dumps(outbound, ensure_ascii=False),
        MessageGroupId=outbound["phone_number"],
        MessageDeduplicationId=uuid.uuid4().hex,
    )
    wait_for("the outbox message at Z-API", lambda: len(lines(sent_log)) >= 2)
    time.sleep(WINDOW)
    sent = lines(sent_log)
    if [s["body"] for s in sent[1:]] != [{"phone": "5511996534923", "message": "Olá, da AWS"}]:
        fail(f"Z-API got {sent[1:]} from the outbox, expected the one seed message")
    print(
        "chat-debounce: ok (3 fragments -> 1 bot call -> 1 Z-API reply; "
        "outbox JSON delivered through Z-API)"
    )


if __name__ == "__main__":
    main()
