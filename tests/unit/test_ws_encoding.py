"""WebSocket messages: the same JSON as ever, a shared result encoded once."""

from __future__ import annotations

import json

import pytest

from gql_keys.graphql import ws_encoding
from gql_keys.graphql.ws_encoding import MessageEncoder


@pytest.mark.parametrize(
    "message",
    [
        {"id": "1", "type": "next", "payload": {"data": {"keyActivity": {"id": "7"}}}},
        {"type": "data", "id": "op", "payload": {"data": {"keyActivity": None}}},
        {"id": "1", "type": "next", "payload": {"data": None, "errors": [{"message": "x"}]}},
        {"id": "1", "type": "error", "payload": [{"message": "Subscription limit reached"}]},
        {"type": "pong"},
        {"type": "connection_ack"},
    ],
)
def test_every_message_encodes_to_its_own_json(message: dict[str, object]) -> None:
    assert json.loads(MessageEncoder().encode(message)) == message


def test_a_result_sent_on_many_sockets_is_encoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    encoded: list[object] = []
    plain = ws_encoding.encode

    def counting(value: object) -> str:
        encoded.append(value)
        return plain(value)

    monkeypatch.setattr(ws_encoding, "encode", counting)
    encoder = MessageEncoder()
    data = {"keyActivity": {"id": "7", "kind": "KEY_USED"}}
    texts = [
        encoder.encode({"id": str(n), "type": "next", "payload": {"data": data}}) for n in range(50)
    ]
    assert [json.loads(t)["id"] for t in texts] == [str(n) for n in range(50)]
    assert all(json.loads(t)["payload"] == {"data": data} for t in texts)
    payloads = [v for v in encoded if isinstance(v, dict) and "data" in v]
    assert len(payloads) == 1
    # An equal result from another execution is its own entry, never mixed up.
    other = {"keyActivity": {"id": "8", "kind": "KEY_USED"}}
    text = encoder.encode({"id": "1", "type": "next", "payload": {"data": other}})
    assert json.loads(text)["payload"]["data"]["keyActivity"]["id"] == "8"


def test_the_cache_holds_only_the_last_results() -> None:
    encoder = MessageEncoder(size=2)
    results = [{"keyActivity": {"id": str(n)}} for n in range(5)]
    for n, data in enumerate(results):
        text = encoder.encode({"id": "1", "type": "next", "payload": {"data": data}})
        assert json.loads(text)["payload"]["data"]["keyActivity"]["id"] == str(n)
    assert len(encoder._payloads) == 2
