"""The compiled ``verifyApiRequest`` answers byte for byte what graphql-core answers.

Each case runs the same request twice: once with the gateway's document, which the
compiled plan executes, and once with the same document plus a last field under
``@include(if: false)``, which changes nothing in the answer (nor the locations of
errors) but keeps the plan away, so graphql-core's executor runs. Two keys set up alike
stand in for each other, so side effects (rate limits, replay) leave both runs in the
same state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from graphql import parse
from tortoise.connection import connections

from gql_keys.graphql.schema import build_schema
from gql_keys.graphql.verification import compiled
from gql_keys.models import ApiKey, UsageLog
from gql_keys.runtime import Runtime
from tests.support.graphql import error_codes
from tests.support.keys import (
    create_active_key,
    create_user,
    monitor_token,
    verifier_token,
    verify_input,
)

SELECTIONS = [
    "allowed code rateLimit { limit remaining resetAt }",
    "ok: allowed why: code __typename userErrors { code message field } "
    "rateLimit { __typename left: remaining limit at: resetAt }",
    "code",
]


def documents(selection: str) -> tuple[str, str]:
    """(compiled, generic) forms of one gateway document."""
    template = (
        "mutation Verify($input: VerifyApiRequestInput!) {{\n"
        "  verifyApiRequest(input: $input) {{ {} }}\n}}"
    )
    return (
        template.format(selection),
        template.format(f"{selection} __typename @include(if: false)"),
    )


class PlanCalls:
    """Counts the compiled executor's runs, and how many it answered itself."""

    def __init__(self) -> None:
        self.ran = 0
        self.answered = 0


@pytest.fixture
def plan_calls(monkeypatch: pytest.MonkeyPatch) -> PlanCalls:
    calls = PlanCalls()
    real = compiled.VerifyPlan.execute

    async def spy(plan: compiled.VerifyPlan, *args: Any) -> Any:
        calls.ran += 1
        result = await real(plan, *args)
        calls.answered += result is not None
        return result

    monkeypatch.setattr(compiled.VerifyPlan, "execute", spy)
    return calls


async def post(
    client: httpx.AsyncClient, document: str, variables: Any, token: str | None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": document, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def without_reset(body: dict[str, Any]) -> tuple[dict[str, Any], list[datetime]]:
    """The body with every ``resetAt`` taken out (a window boundary may fall between
    the two runs), and those instants."""
    instants: list[datetime] = []

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if isinstance(item, str) and key in ("resetAt", "at"):
                    instants.append(datetime.fromisoformat(item))
                    continue
                out[key] = walk(item)
            return out
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    return walk(body), instants


Scenario = Callable[[Runtime, str], Awaitable[tuple[str, dict[str, Any], int]]]


async def valid(rt: Runtime, token: str) -> tuple[str, dict[str, Any], int]:
    row, secret = await create_active_key(rt, (await create_user()).id, rate_limit=(5, 3600))
    return row.key, verify_input(row.key, secret, now=rt.clock.time()), 1


async def unknown_key(rt: Runtime, token: str) -> tuple[str, dict[str, Any], int]:
    data = verify_input("gqk_" + "0" * 32, "gqks_nothing", now=rt.clock.time())
    return "", data, 1


async def bad_signature(rt: Runtime, token: str) -> tuple[str, dict[str, Any], int]:
    key, data, _ = await valid(rt, token)
    data["signature"] = "0" * 128
    return key, data, 1


async def stale_timestamp(rt: Runtime, token: str) -> tuple[str, dict[str, Any], int]:
    row, secret = await create_active_key(rt, (await create_user()).id)
    return row.key, verify_input(row.key, secret, now=rt.clock.time() - 61), 1


async def foreign_address(rt: Runtime, token: str) -> tuple[str, dict[str, Any], int]:
    row, secret = await create_active_key(
        rt, (await create_user()).id, ip_allowlist=["198.51.100.0/24"]
    )
    return row.key, verify_input(row.key, secret, now=rt.clock.time()), 1


async def missing_scope(rt: Runtime, token: str) -> tuple[str, dict[str, Any], int]:
    row, secret = await create_active_key(rt, (await create_user()).id, scopes=["SPOT_READ"])
    data = verify_input(row.key, secret, now=rt.clock.time(), required_scope="WALLET_WRITE")
    return row.key, data, 1


async def replayed_post(rt: Runtime, token: str) -> tuple[str, dict[str, Any], int]:
    row, secret = await create_active_key(rt, (await create_user()).id)
    data = verify_input(row.key, secret, now=rt.clock.time(), method="POST", body=b"{}")
    return row.key, data, 2  # the second answer is REPLAYED


async def rate_limited(rt: Runtime, token: str) -> tuple[str, dict[str, Any], int]:
    row, secret = await create_active_key(rt, (await create_user()).id, rate_limit=(1, 3600))
    return row.key, verify_input(row.key, secret, now=rt.clock.time()), 2


async def deleted_key(rt: Runtime, token: str) -> tuple[str, dict[str, Any], int]:
    row, secret = await create_active_key(rt, (await create_user()).id)
    await ApiKey.filter(id=row.id).update(deleted_at=rt.clock.now())
    return row.key, verify_input(row.key, secret, now=rt.clock.time()), 1


async def expired_key(rt: Runtime, token: str) -> tuple[str, dict[str, Any], int]:
    row, secret = await create_active_key(
        rt, (await create_user()).id, expires_at=rt.clock.now() - timedelta(seconds=1)
    )
    return row.key, verify_input(row.key, secret, now=rt.clock.time()), 1


SCENARIOS: dict[str, tuple[Scenario, str]] = {
    "valid": (valid, "VALID"),
    "unknown_key": (unknown_key, "KEY_NOT_FOUND"),
    "bad_signature": (bad_signature, "INVALID_SIGNATURE"),
    "stale_timestamp": (stale_timestamp, "TIMESTAMP_OUT_OF_WINDOW"),
    "foreign_address": (foreign_address, "IP_NOT_ALLOWED"),
    "missing_scope": (missing_scope, "SCOPE_NOT_GRANTED"),
    "replayed_post": (replayed_post, "REPLAYED"),
    "rate_limited": (rate_limited, "RATE_LIMITED"),
    "deleted_key": (deleted_key, "KEY_DELETED"),
    "expired_key": (expired_key, "KEY_EXPIRED"),
}


@pytest.mark.parametrize("selection", SELECTIONS)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_compiled_and_generic_executors_answer_every_code_identically(
    client: httpx.AsyncClient, rt: Runtime, plan_calls: PlanCalls, scenario: str, selection: str
) -> None:
    setup, expected_code = SCENARIOS[scenario]
    token = await verifier_token()
    compiled_doc, generic_doc = documents(selection)
    answers: list[list[dict[str, Any]]] = []
    for document in (generic_doc, compiled_doc):
        _, data, repeats = await setup(rt, token)
        answers.append(
            [await post(client, document, {"input": data}, token) for _ in range(repeats)]
        )
    generic_answers, compiled_answers = answers
    assert plan_calls.answered == len(compiled_answers)
    name = "gql_keys_verify_executions_total"
    compiled = rt.metrics.value(name, executor="compiled")
    assert compiled == rt.metrics.value(name, executor="generic") == len(compiled_answers)
    for generic_body, compiled_body in zip(generic_answers, compiled_answers, strict=True):
        generic_rest, generic_resets = without_reset(generic_body)
        compiled_rest, compiled_resets = without_reset(compiled_body)
        assert compiled_rest == generic_rest
        assert len(compiled_resets) == len(generic_resets)
        for ours, theirs in zip(compiled_resets, generic_resets, strict=True):
            assert abs((ours - theirs).total_seconds()) in (0, 3600)
    last = compiled_answers[-1]["data"]["verifyApiRequest"]
    assert last.get("code", last.get("why")) == expected_code


async def test_every_compiled_decision_is_logged_like_any_other(
    client: httpx.AsyncClient, rt: Runtime, plan_calls: PlanCalls
) -> None:
    token = await verifier_token()
    compiled_doc, _ = documents(SELECTIONS[0])
    key, data, _ = await valid(rt, token)
    before = await UsageLog.filter(key=key).count()
    body = await post(client, compiled_doc, {"input": data}, token)
    assert body["data"]["verifyApiRequest"]["code"] == "VALID"
    assert plan_calls.answered == 1
    logs = await UsageLog.filter(key=key).all()
    assert len(logs) == before + 1
    assert (logs[-1].allowed, logs[-1].code, logs[-1].path) == (True, "VALID", data["path"])
    assert (await ApiKey.get(key=key)).last_used_ip == data["clientIp"]
    metrics = (await client.get("/metrics")).text
    assert 'gql_keys_verify_executions_total{executor="compiled"} 1' in metrics


def bad_variables(data: dict[str, Any]) -> list[Any]:
    """Variables the generic executor refuses, each its own way."""
    cases: list[Any] = [None, {}, {"input": None}, {"input": "text"}]
    missing = dict(data)
    del missing["signature"]
    extra = dict(data, extra="x")
    wrong_type = dict(data, key=12)
    null_required = dict(data, clientIp=None)
    unknown_scope = dict(data, requiredScope="EVERYTHING")
    scope_as_list = dict(data, requiredScope=["SPOT_READ"])
    cases += [
        {"input": case}
        for case in (missing, extra, wrong_type, null_required, unknown_scope, scope_as_list)
    ]
    return cases


async def test_refusals_are_left_to_the_generic_executor_and_read_the_same(
    client: httpx.AsyncClient, rt: Runtime, plan_calls: PlanCalls
) -> None:
    verifier = await verifier_token()
    monitor = await monitor_token()
    compiled_doc, generic_doc = documents(SELECTIONS[0])
    _, data, _ = await valid(rt, verifier)
    cases: list[tuple[Any, str | None]] = [(v, verifier) for v in bad_variables(data)]
    cases += [({"input": data}, None), ({"input": data}, monitor), ({"input": data}, "x" * 43)]
    for variables, token in cases:
        generic_body = await post(client, generic_doc, variables, token)
        compiled_body = await post(client, compiled_doc, variables, token)
        assert compiled_body == generic_body, variables
        assert compiled_body.get("errors"), variables
    assert plan_calls.answered == 0
    assert plan_calls.ran > 0


async def test_optional_query_may_be_absent_or_null_on_the_compiled_path(
    client: httpx.AsyncClient, rt: Runtime, plan_calls: PlanCalls
) -> None:
    token = await verifier_token()
    compiled_doc, _ = documents("code")
    user = await create_user()
    row, secret = await create_active_key(rt, user.id)
    for spelled in ("absent", None):
        data = verify_input(row.key, secret, now=rt.clock.time(), query="")
        if spelled == "absent":
            del data["query"]
        else:
            data["query"] = None
        body = await post(client, compiled_doc, {"input": data}, token)
        assert body == {"data": {"verifyApiRequest": {"code": "VALID"}}}
    assert plan_calls.answered == 2


async def test_log_failure_on_the_compiled_path_is_service_unavailable(
    client: httpx.AsyncClient, rt: Runtime, plan_calls: PlanCalls
) -> None:
    token = await verifier_token()
    compiled_doc, generic_doc = documents(SELECTIONS[0])
    connection = connections.all()[0]
    bodies = []
    for document in (generic_doc, compiled_doc):
        _, data, _ = await valid(rt, token)
        await post(client, document, {"input": data}, token)  # warms the key cache
        await connection.execute_script("ALTER TABLE usage_logs RENAME TO usage_logs_gone")
        try:
            bodies.append(await post(client, document, {"input": data}, token))
        finally:
            await connection.execute_script("ALTER TABLE usage_logs_gone RENAME TO usage_logs")
    generic_body, compiled_body = bodies
    assert compiled_body == generic_body
    assert error_codes(compiled_body) == ["SERVICE_UNAVAILABLE"]
    assert compiled_body["data"] is None
    assert plan_calls.ran == 2


@pytest.mark.parametrize(
    "document",
    [
        "mutation($i: VerifyApiRequestInput!) { verifyApiRequest(input: $i) { allowed } }",
        "mutation M($i: VerifyApiRequestInput!) { v: verifyApiRequest(input: $i) { code } }",
        "mutation($i: VerifyApiRequestInput!) { verifyApiRequest(input: $i) "
        "{ userErrors { code } rateLimit { limit } } }",
    ],
)
def test_gateway_documents_are_compiled(document: str) -> None:
    schema = build_schema()._schema
    assert compiled.compile_plan(schema, parse(document), None) is not None


@pytest.mark.parametrize(
    "document",
    [
        # fields the plan does not render
        "mutation($i: VerifyApiRequestInput!) { verifyApiRequest(input: $i) { apiKey { id } } }",
        # fragments, directives, literals, defaults, more than one field
        "mutation($i: VerifyApiRequestInput!) { verifyApiRequest(input: $i) { ...P } } "
        "fragment P on VerifyApiRequestPayload { allowed }",
        "mutation($i: VerifyApiRequestInput!) { verifyApiRequest(input: $i) "
        "{ ... on VerifyApiRequestPayload { allowed } } }",
        "mutation($i: VerifyApiRequestInput!, $s: Boolean!) { verifyApiRequest(input: $i) "
        "{ allowed @skip(if: $s) } }",
        'mutation { verifyApiRequest(input: {key: "k", signature: "s", timestamp: "1", '
        'method: "GET", path: "/", bodySha512: "", clientIp: "::1", requiredScope: SPOT_READ}) '
        "{ allowed } }",
        'mutation($i: VerifyApiRequestInput! = {key: "k", signature: "s", timestamp: "1", '
        'method: "GET", path: "/", bodySha512: "", clientIp: "::1", requiredScope: SPOT_READ}) '
        "{ verifyApiRequest(input: $i) { allowed } }",
        "mutation($i: VerifyApiRequestInput!) { a: verifyApiRequest(input: $i) { allowed } "
        "b: verifyApiRequest(input: $i) { allowed } }",
        "mutation($i: VerifyApiRequestInput!) { verifyApiRequest(input: $i) { code code } }",
        # not a mutation of verifyApiRequest at all
        "{ __typename }",
    ],
)
def test_other_documents_are_left_to_the_generic_executor(document: str) -> None:
    schema = build_schema()._schema
    assert compiled.compile_plan(schema, parse(document), None) is None


def test_the_operation_is_picked_by_name_as_graphql_core_would() -> None:
    schema = build_schema()._schema
    document = parse(
        "mutation A($i: VerifyApiRequestInput!) { verifyApiRequest(input: $i) { allowed } } "
        "query B { __typename }"
    )
    assert compiled.compile_plan(schema, document, "A") is not None
    assert compiled.compile_plan(schema, document, "B") is None
    assert compiled.compile_plan(schema, document, None) is None
