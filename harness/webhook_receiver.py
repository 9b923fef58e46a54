"""A real HTTP receiver on loopback for webhook tests: records every request, answers
with the statuses it is told to (then 200), and can hang on purpose."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes


class WebhookReceiver:
    """``with WebhookReceiver() as r:`` serves ``r.url`` until the block ends."""

    def __init__(self, statuses: list[int] | None = None, *, redirect_to: str | None = None):
        self.received: list[Received] = []
        self._statuses: deque[int] = deque(statuses or [])
        self._redirect_to = redirect_to
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self.hang = threading.Event()  # set: requests wait until ``release`` is set
        self.release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hooks"

    def answer(self, *statuses: int) -> None:
        with self._lock:
            self._statuses.extend(statuses)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                item = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver._arrived:
                    receiver.received.append(item)
                    receiver._arrived.notify_all()
                    status = receiver._statuses.popleft() if receiver._statuses else 200
                if receiver.hang.is_set():
                    receiver.release.wait(60)
                self.send_response(status)
                if receiver._redirect_to is not None:
                    self.send_header("location", receiver._redirect_to)
                self.send_header("content-type", "text/plain")
                reply = b"a response body the sender must not keep"
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
