"""Sockets were registered by ``id(ws)``, and registering an id already held answered
True. After a missed unregister, a new socket whose object reused that ``id()``
inherited the old entry: it skipped the per-principal cap, and ``revokeSession`` closed
(or missed) the wrong socket. Sockets are now keyed by a per-process counter kept in the
socket's context, and a second registration under one key is refused."""

from __future__ import annotations

from gql_keys.sockets import SocketRegistry


async def _never_closed(code: int, reason: str) -> None:
    raise AssertionError("this socket must stay open")


async def test_a_key_already_registered_is_refused_and_keeps_its_own_session() -> None:
    sockets = SocketRegistry(max_per_principal=5)
    closed: list[int] = []

    async def close_first(code: int, reason: str) -> None:
        closed.append(code)

    key = sockets.new_id()
    assert sockets.register(key, "user:1", 100, close_first)
    assert not sockets.register(key, "user:1", 200, _never_closed)  # no inheriting
    assert sockets.count("user:1") == 1
    assert sockets.close_session(200) == 0
    assert sockets.close_session(100) == 1


async def test_a_reused_key_cannot_skip_the_per_principal_cap() -> None:
    sockets = SocketRegistry(max_per_principal=1)
    key = sockets.new_id()
    assert sockets.register(key, "service:1", None, _never_closed)
    # The old entry was never unregistered; a newcomer with the same key is refused
    # instead of sharing the entry (and the cap's one slot).
    assert not sockets.register(key, "service:1", None, _never_closed)
    assert not sockets.register(sockets.new_id(), "service:1", None, _never_closed)


async def test_every_socket_gets_a_key_of_its_own() -> None:
    sockets = SocketRegistry(max_per_principal=5)
    keys = {sockets.new_id() for _ in range(1000)}
    assert len(keys) == 1000
