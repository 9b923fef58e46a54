"""The ``Node`` interface: opaque global ids and ``node(id:)``.

Each domain supplies how to load its own types for its own principal; the schema
builds the ``node`` field from that table (:func:`node_query`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any

import strawberry

from gql_keys.domain_errors import DomainError, ErrorCode
from gql_keys.global_ids import InvalidGlobalId, decode_global_id
from gql_keys.graphql.context import Info


def decode_int_id(global_id: str, expected_type: str) -> int | None:
    """The primary key behind ``global_id`` if it names ``expected_type``, else None."""
    try:
        type_name, pk = decode_global_id(global_id)
    except InvalidGlobalId:
        return None
    return int_pk(pk) if type_name == expected_type else None


def require_int_id(global_id: str, expected_type: str, message: str) -> int:
    """The primary key behind ``global_id``; ``NOT_FOUND`` on ``input.id`` with
    ``message`` when it does not name an ``expected_type``."""
    pk = decode_int_id(global_id, expected_type)
    if pk is None:
        raise DomainError(ErrorCode.NOT_FOUND, message, ("input", "id"))
    return pk


def int_pk(pk: str) -> int | None:
    """The primary key text of a global id as an int, or None when it is not one."""
    if not pk.isascii() or not pk.isdigit() or len(pk) > 18:
        return None
    return int(pk)


@strawberry.interface
class Node:
    id: strawberry.ID


NodeLoader = Callable[[Info, str], Awaitable[Node | None]]


def node_query(loaders: Mapping[str, NodeLoader]) -> type[Any]:
    """The ``Query`` type holding ``node(id:)``, loading each type name with its loader."""
    by_type = MappingProxyType(dict(loaders))

    @strawberry.type(name="Query")
    class NodeQuery:
        @strawberry.field(
            description="Any object by its global id; another account's reads as null."
        )
        async def node(self, info: Info, id: strawberry.ID) -> Node | None:
            try:
                type_name, pk = decode_global_id(id)
            except InvalidGlobalId:
                return None
            loader = by_type.get(type_name)
            if loader is None:
                return None
            return await loader(info, pk)

    return NodeQuery
