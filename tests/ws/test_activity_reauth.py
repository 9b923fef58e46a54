"""Open sockets lose their events once the credential that opened them stops holding."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gql_keys.clock import Clock
from gql_keys.models import Session
from gql_keys.runtime import Runtime
from gql_keys.services import service_tokens
from gql_keys.services.sessions import start_session
from gql_keys.settings import Settings
from harness.accounts import LOCAL_CLIENT
from harness.keys import create_user, monitor_token
from tests.ws.support import open_socket


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(ws_reauth_seconds=0.2)


async def test_socket_of_a_revoked_monitor_token_is_closed_4401(
    server_url: str, rt: Runtime, clock: Clock
) -> None:
    token = await monitor_token()
    async with open_socket(server_url) as ws:
        assert (await ws.init(token))["type"] == "connection_ack"
        rows = await service_tokens.list_all()
        assert await service_tokens.revoke(rows[0].name)
        clock.advance(rt.settings.key_cache_ttl_seconds + 1)  # past the token cache
        assert await ws.close_code() == 4401


async def test_socket_of_an_expired_session_is_closed_4401(
    server_url: str, rt: Runtime, clock: Clock
) -> None:
    user = await create_user()
    ending = await start_session(rt, user.id, LOCAL_CLIENT)
    lasting = await start_session(rt, user.id, LOCAL_CLIENT)
    async with open_socket(server_url) as a, open_socket(server_url) as b:
        assert (await a.init(ending))["type"] == "connection_ack"
        assert (await b.init(lasting))["type"] == "connection_ack"
        sessions = await Session.filter(user_id=user.id).order_by("id")
        await Session.filter(id=sessions[0].id).update(
            expires_at=rt.clock.now() - timedelta(seconds=1)
        )
        assert await a.close_code() == 4401
        with pytest.raises(TimeoutError):
            await b.receive(timeout=0.6)
