"""Open the database for one command; a failure becomes one line that names it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from tortoise import Tortoise
from tortoise.exceptions import OperationalError

from gql_keys.db import migrate, pending_migrations, tortoise_config
from gql_keys.services import servers
from gql_keys.settings import Settings

T = TypeVar("T")

SHARE_HINT = "the server's GQL_KEYS_DATA_DIR or GQL_KEYS_DATABASE_URL"


class DatabaseUnavailable(Exception):
    """The command cannot open or use the database; the message says which and why."""


def safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        credentials, _, host = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        return f"{scheme}{sep}{user}@{host}"
    return url


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite file the settings name, or None for another database."""
    if not settings.is_sqlite:
        return None
    _, _, rest = settings.effective_database_url.partition("://")
    return Path(rest.split("?", 1)[0])


def _missing_schema(exc: OperationalError) -> bool:
    text = str(exc)
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def run_with_database(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` with the ORM connected to an existing database at the current schema.

    Says on standard error which database it uses, and warns there when no server has
    used that database lately: standard output stays the command's own answer.
    """
    url = safe_url(settings.effective_database_url)
    path = sqlite_path(settings)
    if path is not None and not path.is_file():
        raise DatabaseUnavailable(
            f"no database at {path}: use {SHARE_HINT}, "
            "or create it with `gql-keys migrate` (or a first `gql-keys serve`)"
        )

    async def run() -> T:
        await Tortoise.init(config=tortoise_config(settings))
        try:
            await _check_schema(settings, url)
            note(f"database {url}")
            last = await servers.last_seen()
            if not servers.served_lately(last, datetime.now(UTC)):
                minutes = int(servers.SERVED_WITHIN.total_seconds() // 60)
                when = "never" if last is None else f"last at {last:%Y-%m-%d %H:%M} UTC"
                note(
                    f"warning: no `gql-keys serve` has used this database in the last "
                    f"{minutes} minutes ({when}); if a server is running, it reads another "
                    f"one: give this command {SHARE_HINT}"
                )
            return await work()
        finally:
            await Tortoise.close_connections()

    with _explained(url):
        return asyncio.run(run())


def note(text: str) -> None:
    """One line for the person at the terminal, on standard error."""
    print(f"gql-keys: {text}", file=sys.stderr)


async def _check_schema(settings: Settings, url: str) -> None:
    pending, total = await pending_migrations(settings)
    if pending and len(pending) == total:
        raise DatabaseUnavailable(
            f"the database {url} was never set up by gql-keys: use {SHARE_HINT}, "
            "or set it up with `gql-keys migrate`"
        )
    if pending:
        raise DatabaseUnavailable(
            f"the database {url} is {len(pending)} migration(s) behind this gql-keys: "
            "run `gql-keys migrate` first"
        )


def migrate_database(settings: Settings) -> None:
    """Bring the database to the current schema (creating a SQLite file if needed)."""
    with _explained(safe_url(settings.effective_database_url)):
        asyncio.run(migrate(settings))


@contextmanager
def _explained(url: str) -> Iterator[None]:
    try:
        yield
    except OperationalError as exc:
        if _missing_schema(exc):
            raise DatabaseUnavailable(
                f"the database {url} has no gql-keys tables: run `gql-keys migrate` "
                f"with {SHARE_HINT}"
            ) from None
        raise DatabaseUnavailable(f"cannot use the database {url}: {exc}") from None
    except OSError as exc:  # connection refused, unknown host, missing database (asyncpg)
        reason = exc.__cause__ or exc
        raise DatabaseUnavailable(f"cannot connect to the database {url}: {reason}") from None
