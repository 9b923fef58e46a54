"""Strawberry's depth and alias limiters walk every fragment spread anew, so a document of
under a kilobyte that spreads each fragment twice at every level (``...F ... on Query
{ ...F }``) made them do 2^N work: 18 levels took a second of CPU, 30 would take hours,
all on the event loop. A document may now select at most ``max_expanded_fields`` fields
once its fragments are expanded, measured in linear time before those limiters run."""

from __future__ import annotations

import asyncio

import httpx

from gql_keys.graphql.document_limits import expanded_fields
from graphql import parse
from harness.graphql import gql


def doubling(levels: int) -> str:
    """An operation whose selection doubles at each of ``levels`` fragment levels."""
    parts = ["query { ...F0 }"]
    for i in range(levels):
        inner = f"...F{i + 1} ... on Query {{ ...F{i + 1} }}" if i + 1 < levels else "viewer { id }"
        parts.append(f"fragment F{i} on Query {{ {inner} }}")
    return "\n".join(parts)


def refused(body: dict[str, object]) -> bool:
    errors = body.get("errors") or []
    assert isinstance(errors, list)
    return body.get("data") is None and [e["extensions"]["code"] for e in errors] == [
        "GRAPHQL_VALIDATION_FAILED"
    ]


async def test_a_document_expanding_past_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    body = await gql(client, doubling(14))  # 2^13 viewer fields: over 5,000
    assert refused(body), body


async def test_thirty_doubling_levels_are_refused_without_hanging(
    client: httpx.AsyncClient,
) -> None:
    body = await asyncio.wait_for(gql(client, doubling(30)), timeout=20)
    assert refused(body), body


async def test_reused_fragments_within_the_limit_still_run(client: httpx.AsyncClient) -> None:
    body = await gql(client, doubling(8))  # 2^7 selections of viewer, merged into one
    assert body == {"data": {"viewer": None}}


def test_expanded_size_counts_each_spread_and_nested_field() -> None:
    document = parse(
        "query { a: viewer { id } ...F ...F } "
        "fragment F on Query { viewer { id email } ... on Query { scopeCatalog { scope } } }"
    )
    assert expanded_fields(document) == 2 + 2 * (3 + 2)
    assert expanded_fields(parse(doubling(60))) == 2**59 * 2  # viewer + id at the bottom
