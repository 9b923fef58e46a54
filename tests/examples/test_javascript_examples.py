"""The JavaScript examples (Node's fetch and node:crypto; graphql-ws for the monitor).

They skip with a message when ``node`` is not installed, and fail under ``CI=true``.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.examples.conftest import JS_EXAMPLES, Live, events_while, make_key, run_example, watch


def current_api_key(stdout: str) -> dict[str, object]:
    answer = json.loads(stdout)
    assert "errors" not in answer, answer
    key: dict[str, object] = answer["data"]["currentApiKey"]
    return key


def test_signing_reproduces_gates_test_vector(node: str) -> None:
    done = run_example([node, "signing.mjs"], JS_EXAMPLES)
    assert done.stdout.strip().startswith("55f84ea195d6fe57ce62464daaa7c3c02fa9d1dde954e4c8")


def test_partner_with_an_hmac_secret_reads_its_own_key(node: str, live: Live) -> None:
    key = make_key(live.url, label="node hmac")
    done = run_example(
        [node, "partner.mjs", live.url, key.key, "--secret", key.secret], JS_EXAMPLES
    )
    assert current_api_key(done.stdout)["label"] == "node hmac"


def test_partner_requests_pass_the_forward_auth_endpoint(
    node: str, live: Live, tmp_path: Path
) -> None:
    hmac_key = make_key(live.url)
    argv = [node, "partner.mjs", live.url, hmac_key.key, "--secret", hmac_key.secret]
    done = run_example([*argv, "--verifier-token", live.verifier_token], JS_EXAMPLES)
    assert json.loads(done.stdout.splitlines()[-1]) == {"authz": 200, "verificationCode": "VALID"}

    pem = tmp_path / "partner.pem"
    public_key = run_example([node, "partner.mjs", "keygen", str(pem)], JS_EXAMPLES).stdout
    ed_key = make_key(live.url, algorithm="ED25519", publicKey=public_key)
    argv = [node, "partner.mjs", live.url, ed_key.key, "--private-key", str(pem)]
    done = run_example([*argv, "--verifier-token", live.verifier_token], JS_EXAMPLES)
    assert json.loads(done.stdout.splitlines()[-1]) == {"authz": 200, "verificationCode": "VALID"}


def test_partner_with_a_generated_ed25519_key_reads_its_own_key(
    node: str, live: Live, tmp_path: Path
) -> None:
    pem = tmp_path / "partner.pem"
    public_key = run_example([node, "partner.mjs", "keygen", str(pem)], JS_EXAMPLES).stdout
    assert public_key.startswith("-----BEGIN PUBLIC KEY-----")
    assert pem.stat().st_mode & 0o077 == 0
    key = make_key(live.url, label="node ed25519", algorithm="ED25519", publicKey=public_key)
    done = run_example(
        [node, "partner.mjs", live.url, key.key, "--private-key", str(pem)], JS_EXAMPLES
    )
    seen = current_api_key(done.stdout)
    assert (seen["label"], seen["algorithm"]) == ("node ed25519", "ED25519")


def test_monitor_prints_the_key_activity_it_sees(node: str, live: Live) -> None:
    key = make_key(live.url, label="watched from node")
    monitor = watch(
        [node, "monitor.mjs", live.url, live.monitor_token, "--count", "1", "--timeout", "30"],
        JS_EXAMPLES,
    )
    partner = [node, "partner.mjs", live.url, key.key, "--secret", key.secret]
    [event] = events_while(monitor, lambda: run_example(partner, JS_EXAMPLES))
    assert (event["kind"], event["code"]) == ("KEY_USED", "VALID")
    assert event["apiKey"]["label"] == "watched from node"
