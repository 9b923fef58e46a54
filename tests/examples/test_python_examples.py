"""The Python examples a partner copies, run as programs against a live server."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from gql_keys.security.signing import hmac_sha512_hex, signing_payload
from tests.examples.conftest import (
    PYTHON,
    PYTHON_EXAMPLES,
    Live,
    events_while,
    make_key,
    run_example,
    watch,
)
from tests.scaleout.cluster import EMPTY_SHA512, free_port


def current_api_key(done: subprocess.CompletedProcess[str]) -> dict[str, object]:
    answer = json.loads(done.stdout)
    assert "errors" not in answer, answer
    key: dict[str, object] = answer["data"]["currentApiKey"]
    return key


def test_signing_reproduces_gates_test_vector() -> None:
    done = run_example([PYTHON, "signing.py"], PYTHON_EXAMPLES)
    assert done.stdout.strip().startswith("55f84ea195d6fe57ce62464daaa7c3c02fa9d1dde954e4c8")


def test_partner_with_an_hmac_secret_reads_its_own_key(live: Live) -> None:
    key = make_key(live.url, label="python hmac")
    done = run_example(
        [PYTHON, "partner.py", live.url, key.key, "--secret", key.secret], PYTHON_EXAMPLES
    )
    assert current_api_key(done)["label"] == "python hmac"


def test_partner_requests_pass_the_forward_auth_endpoint(live: Live, tmp_path: Path) -> None:
    hmac_key = make_key(live.url)
    argv = [PYTHON, "partner.py", live.url, hmac_key.key, "--secret", hmac_key.secret]
    done = run_example([*argv, "--verifier-token", live.verifier_token], PYTHON_EXAMPLES)
    assert json.loads(done.stdout.splitlines()[-1]) == {"authz": 200, "verificationCode": "VALID"}

    pem = tmp_path / "partner.pem"
    public_key = run_example([PYTHON, "partner.py", "keygen", str(pem)], PYTHON_EXAMPLES).stdout
    ed_key = make_key(live.url, algorithm="ED25519", publicKey=public_key)
    argv = [PYTHON, "partner.py", live.url, ed_key.key, "--private-key", str(pem)]
    done = run_example([*argv, "--verifier-token", live.verifier_token], PYTHON_EXAMPLES)
    assert json.loads(done.stdout.splitlines()[-1]) == {"authz": 200, "verificationCode": "VALID"}

    refused = run_example([*argv, "--verifier-token", live.monitor_token], PYTHON_EXAMPLES)
    assert json.loads(refused.stdout.splitlines()[-1])["authz"] == 401


def test_partner_with_a_generated_ed25519_key_reads_its_own_key(live: Live, tmp_path: Path) -> None:
    pem = tmp_path / "partner.pem"
    public_key = run_example([PYTHON, "partner.py", "keygen", str(pem)], PYTHON_EXAMPLES).stdout
    assert public_key.startswith("-----BEGIN PUBLIC KEY-----")
    assert pem.stat().st_mode & 0o077 == 0
    key = make_key(live.url, label="python ed25519", algorithm="ED25519", publicKey=public_key)
    done = run_example(
        [PYTHON, "partner.py", live.url, key.key, "--private-key", str(pem)], PYTHON_EXAMPLES
    )
    seen = current_api_key(done)
    assert (seen["label"], seen["algorithm"]) == ("python ed25519", "ED25519")


def test_partner_with_a_wrong_secret_is_refused(live: Live) -> None:
    key = make_key(live.url)
    done = subprocess.run(
        [PYTHON, "partner.py", live.url, key.key, "--secret", "gqks_not-the-secret"],
        cwd=PYTHON_EXAMPLES,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert json.loads(done.stdout)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_monitor_prints_the_key_activity_it_sees(live: Live) -> None:
    key = make_key(live.url, label="watched")
    monitor = watch(
        [PYTHON, "monitor.py", live.url, live.monitor_token, "--count", "1", "--timeout", "30"],
        PYTHON_EXAMPLES,
    )
    partner = [PYTHON, "partner.py", live.url, key.key, "--secret", key.secret]
    [event] = events_while(monitor, lambda: run_example(partner, PYTHON_EXAMPLES))
    assert event["kind"] == "KEY_USED"
    assert event["code"] == "VALID"
    assert event["apiKey"]["label"] == "watched"


class Upstream(BaseHTTPRequestHandler):
    """The API behind the gateway: answers with the path and the key id it was given."""

    def do_GET(self) -> None:
        body = json.dumps({"path": self.path, "apiKeyId": self.headers["X-Api-Key-Id"]})
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def gateway(live: Live) -> Iterator[str]:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    env = {
        **os.environ,
        "GQL_KEYS_URL": live.url,
        "GQL_KEYS_VERIFIER_TOKEN": live.verifier_token,
        "UPSTREAM_URL": f"http://127.0.0.1:{upstream.server_address[1]}",
    }
    process = subprocess.Popen(
        [PYTHON, "-m", "uvicorn", "gateway:app", "--port", str(port), "--log-level", "warning"],
        cwd=PYTHON_EXAMPLES,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the gateway did not start"
                assert process.poll() is None, "the gateway exited"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)
        upstream.shutdown()
        upstream.server_close()


def signed(
    key: str, secret: str, path: str, query: str = "", method: str = "GET"
) -> dict[str, str]:
    timestamp = f"{time.time():.3f}"
    payload = signing_payload(method, path, query, EMPTY_SHA512, timestamp)
    return {"KEY": key, "Timestamp": timestamp, "SIGN": hmac_sha512_hex(secret, payload)}


def test_gateway_forwards_an_allowed_request_with_its_key_id(live: Live, gateway: str) -> None:
    key = make_key(live.url, scopes=["SPOT_READ"])
    path, query = "/api/v4/spot/orders", "currency_pair=BTC_USDT&status=open"
    response = httpx.get(
        f"{gateway}{path}?{query}", headers=signed(key.key, key.secret, path, query)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"path": f"{path}?{query}", "apiKeyId": key.id}


def test_gateway_refuses_what_gql_keys_denies(live: Live, gateway: str) -> None:
    key = make_key(live.url, scopes=["SPOT_READ"])
    path = "/api/v4/spot/orders"
    wrong = httpx.get(gateway + path, headers=signed(key.key, "gqks_wrong", path))
    assert (wrong.status_code, wrong.json()["label"]) == (401, "INVALID_SIGNATURE")
    write = httpx.post(gateway + path, headers=signed(key.key, key.secret, path, method="POST"))
    assert (write.status_code, write.json()["label"]) == (403, "FORBIDDEN")
    unsigned = httpx.get(gateway + path)
    assert (unsigned.status_code, unsigned.json()["label"]) == (401, "MISSING_REQUIRED_HEADER")
    elsewhere = httpx.get(gateway + "/admin", headers=signed(key.key, key.secret, "/admin"))
    assert elsewhere.status_code == 403
