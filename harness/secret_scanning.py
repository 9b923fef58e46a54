"""A stand-in for GitHub's secret scanning: its public-key document, served by a real HTTP
server on loopback, and alerts signed the way GitHub signs them (ECDSA P-256 / SHA-256 over
the raw body, base64 DER in ``Github-Public-Key-Signature``)."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from harness.live_server import free_port

TOKEN_TYPE = "gql_keys_api_secret"
DOCUMENT_PATH = "/meta/public_keys/secret_scanning"


def new_signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def sign(private_key: ec.EllipticCurvePrivateKey, body: bytes) -> str:
    return base64.b64encode(private_key.sign(body, ec.ECDSA(hashes.SHA256()))).decode()


def alert(tokens: list[str], token_type: str = TOKEN_TYPE) -> bytes:
    """An alert body as GitHub sends it: one entry per token found."""
    entries = [
        {
            "token": token,
            "type": token_type,
            "url": "https://github.com/octo-org/bot/blob/abc123/config.py",
            "source": "content",
        }
        for token in tokens
    ]
    return json.dumps(entries).encode()


class GitHubKeys:
    """GitHub's key document on a real HTTP server; ``fetches`` counts the GETs served."""

    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.fetches = 0
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{DOCUMENT_PATH}"

    def add_key(self, identifier: str) -> ec.EllipticCurvePrivateKey:
        """Publish a new key (GitHub rotating); its private half signs alerts."""
        self.keys[identifier] = new_signing_key()
        return self.keys[identifier]

    def document(self) -> bytes:
        public_keys = [
            {
                "key_identifier": identifier,
                "key": key.public_key()
                .public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                .decode(),
                "is_current": index == len(self.keys) - 1,
            }
            for index, (identifier, key) in enumerate(self.keys.items())
        ]
        return json.dumps({"public_keys": public_keys}).encode()

    def headers(self, identifier: str, body: bytes) -> dict[str, str]:
        """The headers GitHub sends with ``body``, signed by its key ``identifier``."""
        return {
            "Github-Public-Key-Identifier": identifier,
            "Github-Public-Key-Signature": sign(self.keys[identifier], body),
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Secret-Scanning",
        }

    def start(self) -> None:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != DOCUMENT_PATH:
                    self.send_error(404)
                    return
                stand_in.fetches += 1
                body = stand_in.document()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="github-keys", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop listening: the key URL is unreachable until :meth:`start` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None
