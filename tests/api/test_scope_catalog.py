"""``scopeCatalog``: what a dashboard renders as checkboxes, straight from the Scope enum."""

from __future__ import annotations

import httpx

from gql_keys.scopes import CATALOG, Scope
from harness.graphql import gql

CATALOG_QUERY = "{ scopeCatalog { scope title description area } }"


async def test_scope_catalog_lists_every_scope_once_in_enum_order(
    client: httpx.AsyncClient,
) -> None:
    body = await gql(client, CATALOG_QUERY)
    catalog = body["data"]["scopeCatalog"]
    assert [entry["scope"] for entry in catalog] == [s.value for s in Scope]
    assert all(entry["title"] and entry["description"] for entry in catalog)


async def test_scope_catalog_gives_each_scope_its_area(client: httpx.AsyncClient) -> None:
    body = await gql(client, CATALOG_QUERY)
    areas = {entry["scope"]: entry["area"] for entry in body["data"]["scopeCatalog"]}
    assert areas["SPOT_WRITE"] == "spot"
    assert areas["DELIVERY_READ"] == "delivery"
    assert areas["WITHDRAW"] == "withdraw"
    assert set(areas.values()) == {
        "spot",
        "margin",
        "futures",
        "delivery",
        "options",
        "wallet",
        "account",
        "withdraw",
    }


async def test_scope_catalog_matches_the_server_catalogue(client: httpx.AsyncClient) -> None:
    body = await gql(client, CATALOG_QUERY)
    assert body["data"]["scopeCatalog"] == [
        {"scope": e.scope.value, "title": e.title, "description": e.description, "area": e.area}
        for e in CATALOG
    ]


async def test_scope_catalog_needs_no_login(client: httpx.AsyncClient) -> None:
    body = await gql(client, CATALOG_QUERY)
    assert "errors" not in body


async def test_scope_enum_is_exposed_with_every_value(client: httpx.AsyncClient) -> None:
    body = await gql(client, '{ __type(name: "Scope") { enumValues { name } } }')
    names = [v["name"] for v in body["data"]["__type"]["enumValues"]]
    assert names == [s.value for s in Scope]


async def test_each_scope_is_described_in_its_own_words(client: httpx.AsyncClient) -> None:
    body = await gql(client, CATALOG_QUERY)
    descriptions = [entry["description"] for entry in body["data"]["scopeCatalog"]]
    assert len(set(descriptions)) == len(descriptions)
    # No sentence shared between scopes beyond "Includes …: read.", as a template would.
    sentences = [s.strip() for d in descriptions for s in d.split(".") if s.strip()]
    repeated = {s for s in sentences if sentences.count(s) > 1}
    assert repeated == set()
