"""A real gql-keys app served by uvicorn on a free local port, in a thread of the test
process, so a test can drive it with a browser and still move its clock (TOTP steps)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from gql_keys.app import create_app
from gql_keys.clock import Clock
from gql_keys.settings import Settings

START_TIMEOUT_SECONDS = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    """``start()``/``stop()`` may be called again: a restart keeps the port, the database
    and the clock, as a redeploy would."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        self.port = free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        app = create_app(self.settings, self.clock)
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="live-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._server.started:
                try:
                    if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
            if not self._thread.is_alive():
                break
            time.sleep(0.05)
        raise RuntimeError(f"the server on port {self.port} did not start")

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=START_TIMEOUT_SECONDS)
        self._server = None
        self._thread = None


# Three wrong passwords lock an account for a while: enough to show the wait in a test.
LOGIN_FAILURES_BEFORE_LOCK = 3


def settings_for(data_dir: Path, database_url: str, master_key: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        master_key=master_key,
        argon2_time_cost=1,
        argon2_memory_cost=1024,
        login_max_failures_per_account=LOGIN_FAILURES_BEFORE_LOCK,
    )
