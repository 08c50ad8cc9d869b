"""In-process stand-ins for what the chat gateway talks to: the app's handler and the
platform's send API. Each is a real HTTP server on 127.0.0.1:0 that records every request
and answers through a per-path responder, so a test can make a handler fail, stall or reply,
and a platform throttle."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict
    body: bytes
    at: float  # time.monotonic() when it arrived
    answered_at: float = 0.0

    @property
    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def header(self, name: str) -> str | None:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None


# A responder gets the request and answers (status, headers, body); body may be a dict (JSON).
Responder = Callable[[Request], tuple]


@dataclass
class Recorder:
    """An HTTP server that records requests; `on(prefix, responder)` decides the answers."""

    default: tuple = (200, {}, {})
    requests: list = field(default_factory=list)

    def __post_init__(self):
        self._cond = threading.Condition()
        self._responders: list[tuple[str, Responder]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                req = Request(self.command, path, query, dict(self.headers), body, time.monotonic())
                status, headers, payload = recorder._respond(req)
                if isinstance(payload, (dict, list)):
                    payload = json.dumps(payload).encode()
                    headers = {"Content-Type": "application/json", **headers}
                elif isinstance(payload, str):
                    payload = payload.encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, str(v))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                req.answered_at = time.monotonic()
                with recorder._cond:
                    recorder.requests.append(req)
                    recorder._cond.notify_all()

            do_POST = _serve
            do_GET = _serve
            do_PUT = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def on(self, prefix: str, responder: Responder):
        """Answers requests whose path starts with `prefix` (most recent registration wins)."""
        self._responders.insert(0, (prefix, responder))

    def _respond(self, req: Request) -> tuple:
        for prefix, responder in self._responders:
            if req.path.startswith(prefix):
                return responder(req)
        return self.default

    def seen(self, prefix: str = "", where: Callable[[Request], bool] | None = None) -> list:
        with self._cond:
            return [
                r
                for r in self.requests
                if r.path.startswith(prefix) and (where is None or where(r))
            ]

    def wait(self, prefix: str, count: int = 1, timeout: float = 10.0, where=None) -> list:
        """Waits until `count` matching requests were answered; returns them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [
                    r
                    for r in self.requests
                    if r.path.startswith(prefix) and (where is None or where(r))
                ]
                left = deadline - time.monotonic()
                if len(got) >= count or left <= 0:
                    break
                self._cond.wait(left)
        assert len(got) >= count, (
            f"expected {count} request(s) to {prefix}, got {len(got)}: "
            f"{[(r.path, r.body[:200]) for r in self.seen()]}"
        )
        return got

    def close(self):
        self._server.shutdown()
        self._server.server_close()


def fixture(platform: str, name: str) -> dict:
    return json.loads((FIXTURES / platform / f"{name}.json").read_text())


def zapi_text(phone: str, text: str, message_id: str, instance: str = "INST1") -> dict:
    """A Z-API `ReceivedCallback` with a text, shaped like tests/fixtures/webhooks/zapi/text.json."""
    m = fixture("zapi", "text")
    m.update(
        phone=phone,
        messageId=message_id,
        instanceId=instance,
        momment=int(time.time() * 1000),
        text={"message": text},
    )
    return m


def zapi_image(phone: str, caption: str, message_id: str, instance: str = "INST1") -> dict:
    m = fixture("zapi", "image")
    m.update(phone=phone, messageId=message_id, instanceId=instance, momment=int(time.time() * 1000))
    m["image"]["caption"] = caption
    return m


def zapi_typing(phone: str, status: str = "COMPOSING", instance: str = "INST1") -> dict:
    m = fixture("zapi", "presence_composing")
    m.update(phone=phone, status=status, instanceId=instance)
    return m


def whatsapp_text(phone_number_id: str, sender: str, text: str, message_id: str) -> dict:
    m = fixture("whatsapp", "text")
    value = m["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = phone_number_id
    value["contacts"][0]["wa_id"] = sender
    msg = value["messages"][0]
    msg.update(id=message_id, timestamp=str(int(time.time())), text={"body": text})
    msg["from"] = sender
    return m


def telegram_text(chat_id: int, text: str, message_id: int) -> dict:
    m = fixture("telegram", "text")
    m["update_id"] = message_id
    msg = m["message"]
    msg.update(message_id=message_id, date=int(time.time()), text=text)
    msg["from"]["id"] = chat_id
    msg["chat"]["id"] = chat_id
    return m


@dataclass
class Gateway:
    """A `lull serve` with chat apps, its fake handler and its fake platform API."""

    server: object  # conftest.LullServer
    handler: Recorder
    platform: Recorder
    config_path: Path

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def post(self, app: str, payload=None, headers: dict | None = None, raw: bytes | None = None):
        import requests

        body = raw if raw is not None else json.dumps(payload).encode()
        return requests.post(
            f"{self.endpoint}/webhooks/{app}",
            data=body,
            headers={"Content-Type": "application/json", **(headers or {})},
            timeout=10,
        )

    def conversations(self, app: str) -> list:
        import requests

        r = requests.get(f"{self.endpoint}/admin/apps/{app}/conversations", timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["conversations"]


def start_gateway(server_factory, tmp_path: Path, apps_toml: str, data_dir: Path | None = None) -> Gateway:
    """Starts the fakes, writes lull.toml (HANDLER and PLATFORM in `apps_toml` become their
    URLs) and starts lull with it."""
    handler = Recorder()
    platform = Recorder()
    config = tmp_path / "lull.toml"
    config.write_text(apps_toml.replace("HANDLER", handler.url).replace("PLATFORM", platform.url))
    server = server_factory(data_dir, ["--config", str(config)])
    return Gateway(server, handler, platform, config)


def handler_text(req: Request) -> str:
    return (req.json or {}).get("text", "")
