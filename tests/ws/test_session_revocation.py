"""``revokeSession`` closes the revoked session's sockets at once, and only those."""

from __future__ import annotations

import httpx

from gql_keys.global_ids import encode_global_id
from gql_keys.models import Session
from gql_keys.runtime import Runtime
from gql_keys.services.sessions import start_session
from harness.accounts import LOCAL_CLIENT
from harness.graphql import gql
from harness.keys import create_user
from tests.api.security_support import REVOKE_SESSION
from tests.ws.support import LEGACY_WS, open_socket


async def test_revoking_a_session_closes_its_sockets_only(
    server_url: str, client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await create_user()
    revoked = await start_session(rt, user.id, LOCAL_CLIENT)
    revoked_row = await Session.filter(user_id=user.id).order_by("-id").first()
    assert revoked_row is not None
    staying = await start_session(rt, user.id, LOCAL_CLIENT)
    async with (
        open_socket(server_url) as a,
        open_socket(server_url, LEGACY_WS) as b,
        open_socket(server_url) as c,
    ):
        await a.init(revoked)
        await b.init(revoked)
        await c.init(staying)
        body = await gql(
            client,
            REVOKE_SESSION,
            {"input": {"id": encode_global_id("Session", revoked_row.id)}},
            token=staying,
        )
        assert body["data"]["revokeSession"]["userErrors"] == []
        assert await a.close_code() == 4401
        assert await b.close_code() == 4401
        await c.subscribe("still-open")
