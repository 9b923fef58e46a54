"""``node(id:)``: each domain registers how to load its own types, for its own principal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry

from gql_keys.graphql.context import Info
from gql_keys.graphql.node import InvalidGlobalId, Node, decode_global_id

NodeLoader = Callable[[Info, str], Awaitable[Node | None]]

_LOADERS: dict[str, NodeLoader] = {}


def register_node(type_name: str, loader: NodeLoader) -> None:
    _LOADERS[type_name] = loader


@strawberry.type
class Query:
    @strawberry.field(description="Any object by its global id; another account's reads as null.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        try:
            type_name, pk = decode_global_id(id)
        except InvalidGlobalId:
            return None
        loader = _LOADERS.get(type_name)
        if loader is None:
            return None
        return await loader(info, pk)
