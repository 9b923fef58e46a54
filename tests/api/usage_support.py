"""Recording usage rows through the real group-commit writer, and counting SQL queries."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from gql_keys.models import ApiKey
from gql_keys.runtime import Runtime
from gql_keys.usage.writer import UsageEntry


def entry(
    key: ApiKey | None,
    at: datetime,
    *,
    allowed: bool = True,
    code: str = "VALID",
    client_ip: str = "203.0.113.7",
    key_text: str = "unknown-key",
    method: str = "GET",
    path: str = "/api/v4/spot/orders",
) -> UsageEntry:
    return UsageEntry(
        api_key_id=key.id if key is not None else None,
        owner_id=key.user_id if key is not None else None,
        key=key.key if key is not None else key_text,
        occurred_at=at,
        allowed=allowed,
        code=code,
        client_ip=client_ip,
        method=method,
        path=path,
        required_scope="SPOT_READ",
    )


async def record(rt: Runtime, *entries: UsageEntry) -> list[int]:
    """Write ``entries`` through ``rt.usage_writer`` (rows, rollups, events); their ids."""
    return list(await asyncio.gather(*(rt.usage_writer.record(e) for e in entries)))


@dataclass
class QueryCounter(logging.Handler):
    """Counts the SQL statements Tortoise sends (its ``tortoise.db_client`` logger)."""

    statements: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        logging.Handler.__init__(self, logging.DEBUG)

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        head = message.lstrip().split(None, 1)[0].upper() if message.strip() else ""
        if head in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH"):
            self.statements.append(message)

    def __hash__(self) -> int:
        return id(self)


@contextmanager
def count_queries() -> Iterator[QueryCounter]:
    logger = logging.getLogger("tortoise.db_client")
    counter = QueryCounter()
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(previous)
