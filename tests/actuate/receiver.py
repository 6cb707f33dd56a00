"""A webhook receiver for the tests: checks the signature on its own (hmac, not gigaloop's
code), answers 503 to the first ``fail_first`` requests, applies each action once per
idempotency key, and records every request."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """``with Receiver(b"secret", fail_first=2) as r: ... r.url, r.effects, r.requests``."""

    def __init__(self, secret: bytes, *, fail_first: int = 0, always: int | None = None) -> None:
        self.secret, self.fail_first, self.always = secret, fail_first, always
        self.requests: list[dict[str, Any]] = []  # every request: key, status answered
        self.effects: dict[str, dict[str, Any]] = {}  # idempotency key → the action applied
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/actions"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, headers: Any, body: bytes) -> int:
        key = headers.get("Idempotency-Key", "")
        stamp = headers.get("X-Gigaloop-Timestamp", "")
        expected = "sha256=" + hmac.new(self.secret, f"{stamp}.{key}.".encode() + body,
                                        hashlib.sha256).hexdigest()
        with self._lock:
            if not hmac.compare_digest(expected, headers.get("X-Gigaloop-Signature", "")):
                status = 401
            elif self.always is not None:
                status = self.always
            elif sum(r["status"] == 503 for r in self.requests) < self.fail_first:
                status = 503
            else:
                status = 200
                self.effects.setdefault(key, json.loads(body))  # once per key
            self.requests.append({"key": key, "status": status})
        return status

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.answer(self.headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
