"""Raw SQL for both databases: placeholders in the connection's style, values in the
form each stores them (SQLite keeps Tortoise's datetime text and 0/1 flags)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

# The last second sqlite_datetime formatted: a batch's rows mostly share one.
_last_second: tuple[tuple[int, int, int, int], str] = ((0, 0, 0, 0), "")


def sqlite_datetime(at: datetime) -> str:
    """``at.isoformat(" ")``, the text Tortoise stores SQLite datetimes as. For a UTC time
    the part up to the second is reused from the previous call when it is the same second:
    a row's time was the largest part of building it."""
    global _last_second
    if at.tzinfo is not UTC:
        return at.isoformat(" ")
    second = (at.toordinal(), at.hour, at.minute, at.second)
    key, prefix = _last_second
    if key != second:
        prefix = at.replace(microsecond=0, tzinfo=None).isoformat(" ")
        _last_second = (second, prefix)
    micro = at.microsecond
    return f"{prefix}.{micro:06d}+00:00" if micro else prefix + "+00:00"


def sqlite_value(value: object) -> object:
    if isinstance(value, datetime):
        return sqlite_datetime(value)
    if isinstance(value, bool):
        return int(value)
    return value


class SqlParams:
    """Placeholders and values in the connection's style."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.values: list[object] = []

    @classmethod
    def for_connection(cls, db: BaseDBAsyncClient) -> SqlParams:
        return cls(db.capabilities.dialect == "postgres")

    def add(self, value: object) -> str:
        if self.postgres:
            self.values.append(value)
            return f"${len(self.values)}"
        self.values.append(sqlite_value(value))
        return "?"

    def row(self, values: Sequence[object]) -> str:
        return "(" + ", ".join(self.add(v) for v in values) + ")"


def datetime_reader(model: type[Model], field: str) -> Callable[[object], datetime]:
    """How to read ``model``'s datetime column ``field`` from a raw row: PostgreSQL hands
    out datetimes, SQLite the text Tortoise stores."""
    to_python = model._meta.fields_map[field].to_python_value

    def read(value: object) -> datetime:
        return value if isinstance(value, datetime) else to_python(value)

    return read
