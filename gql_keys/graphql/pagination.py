"""Relay connections with opaque keyset cursors."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Generic, TypeVar

import strawberry

from gql_keys.domain_errors import DomainError, ErrorCode

T = TypeVar("T")

DEFAULT_PAGE = 20
MAX_PAGE = 100


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    nodes: list[T]
    page_info: PageInfo
    total_count: int


def page_size(first: int | None) -> int:
    """``first`` within 1..100 (default 20); anything else is a clear input error."""
    if first is None:
        return DEFAULT_PAGE
    if first < 1 or first > MAX_PAGE:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"first must be between 1 and {MAX_PAGE}.", ("first",)
        )
    return first


def encode_cursor(values: Sequence[str | int]) -> str:
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[str | int]:
    """The keyset values in ``cursor``; a forged or foreign cursor is an input error."""
    bad = DomainError(ErrorCode.INVALID_INPUT, "after is not a valid cursor.", ("after",))
    if len(cursor) > 512:
        raise bad
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, UnicodeError, ValueError):
        raise bad from None
    if (
        not isinstance(values, list)
        or len(values) != arity
        or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values)
    ):
        raise bad
    return values


def decode_id_cursor(after: str | None) -> int | None:
    """The id in an ``after`` cursor of a newest-first list keyed on id; None for the
    first page."""
    if after is None:
        return None
    (value,) = decode_cursor(after, 1)
    if not isinstance(value, int) or value < 1:
        raise DomainError(ErrorCode.INVALID_INPUT, "after is not a valid cursor.", ("after",))
    return value


def encode_time_cursor(at: datetime, pk: int) -> str:
    """The cursor of a row in a newest-first list keyed on (time, id)."""
    return encode_cursor([at.isoformat(), pk])


def decode_time_cursor(after: str | None) -> tuple[datetime, int] | None:
    """The (time, id) keyset in ``after``; None for the first page."""
    if after is None:
        return None
    at, pk = decode_cursor(after, 2)
    bad = DomainError(ErrorCode.INVALID_INPUT, "after is not a valid cursor.", ("after",))
    if not isinstance(at, str) or not isinstance(pk, int):
        raise bad
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise bad from None
    if moment.tzinfo is None:
        raise bad
    return moment, pk


def connection(
    nodes: Sequence[T], cursors: Sequence[str], has_next_page: bool, total_count: int
) -> Connection[T]:
    edges = [Edge(cursor=c, node=n) for c, n in zip(cursors, nodes, strict=True)]
    return Connection(
        edges=edges,
        nodes=list(nodes),
        page_info=PageInfo(
            has_next_page=has_next_page, end_cursor=cursors[-1] if cursors else None
        ),
        total_count=total_count,
    )
