"""A stand-in for Z-API's send-text endpoint, so the example needs no WhatsApp account.

Listens on 127.0.0.1 on a free port, prints `fake z-api listening on http://ADDR` once
ready, and appends every request it gets to FILE as one JSON line:
`{"path": ..., "client_token": ..., "body": {...}}`. It answers the way Z-API does.

    python fake_zapi.py FILE
"""

import json
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()


class SendText(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            self.answer(400, {"error": "body is not JSON"})
            return
        if not self.path.endswith("/send-text") or not isinstance(body, dict):
            self.answer(404, {"error": "unknown endpoint"})
            return
        if not body.get("phone") or not isinstance(body.get("message"), str):
            self.answer(400, {"error": "phone and message are required"})
            return
        entry = {
            "path": self.path,
            "client_token": self.headers.get("Client-Token"),
            "body": body,
        }
        with lock, open(sys.argv[1], "a", encoding="utf-8") as out:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")
        message_id = uuid.uuid4().hex.upper()[:20]
        self.answer(200, {"zaapId": uuid.uuid4().hex, "messageId": message_id, "id": message_id})

    def answer(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SendText)
    host, port = server.server_address[:2]
    print(f"fake z-api listening on http://{host}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
