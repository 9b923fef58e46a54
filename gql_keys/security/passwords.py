"""Password hashing (argon2id, off the event loop) and the NIST 800-63B password policy."""

from __future__ import annotations

import asyncio
import functools
import secrets
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from importlib import resources

from passlib.context import CryptContext
from passlib.exc import PasswordSizeError

# argon2id defaults: 64 MiB, 2 passes, 1 lane. Measured on the development machine
# (2 vCPUs, argon2-cffi 25.1, libpass 1.9.4): 105-115 ms per hash or verify.
DEFAULT_TIME_COST = 2
DEFAULT_MEMORY_COST_KIB = 65536
DEFAULT_PARALLELISM = 1

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256


def _normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


class PasswordHasher:
    """Hashes and verifies passwords with argon2id in a bounded pool of worker threads.

    Passwords are NFKC-normalised (NIST 800-63B) and never truncated.
    """

    def __init__(
        self,
        max_concurrency: int = 2,
        time_cost: int | None = None,
        memory_cost: int | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._context = CryptContext(
            schemes=["argon2"],
            argon2__type="ID",
            argon2__time_cost=DEFAULT_TIME_COST if time_cost is None else time_cost,
            argon2__memory_cost=DEFAULT_MEMORY_COST_KIB if memory_cost is None else memory_cost,
            argon2__parallelism=DEFAULT_PARALLELISM,
        )
        self._pool = ThreadPoolExecutor(
            max_workers=max_concurrency, thread_name_prefix="gql-keys-argon2"
        )
        self._dummy_hash: str = self._context.hash(secrets.token_urlsafe(16))

    def _hash_sync(self, password: str) -> str:
        return str(self._context.hash(_normalise(password)))

    def _verify_sync(self, password: str, stored: str | None) -> bool:
        try:
            if stored is None:
                self._context.verify(_normalise(password), self._dummy_hash)
                return False
            return bool(self._context.verify(_normalise(password), stored))
        except (ValueError, TypeError, PasswordSizeError):
            # Malformed stored hash or an absurdly long password: not a match.
            return False

    async def hash(self, password: str) -> str:
        """Return an argon2id hash of ``password`` (computed in the worker pool)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._hash_sync, password)

    async def verify(self, password: str, stored: str | None) -> bool:
        """Check ``password`` against ``stored``; ``None`` costs the same time and is False."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._verify_sync, password, stored)

    def needs_rehash(self, stored: str) -> bool:
        """Whether ``stored`` was made with other parameters than the current ones."""
        try:
            return bool(self._context.needs_update(stored))
        except (ValueError, TypeError):
            return True

    def close(self) -> None:
        """Shut the worker pool down, waiting for running hashes."""
        self._pool.shutdown(wait=True)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled common-password list, lower case (loaded once)."""
    text = (
        resources.files("gql_keys.security")
        .joinpath("common_passwords.txt")
        .read_text(encoding="utf-8")
    )
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def password_problem(password: str) -> str | None:
    """Return why ``password`` is unacceptable under NIST 800-63B, or None when it is fine."""
    normalised = _normalise(password)
    length = len(normalised)
    if length < MIN_PASSWORD_LENGTH:
        return f"Password must be at least {MIN_PASSWORD_LENGTH} characters long."
    if length > MAX_PASSWORD_LENGTH:
        return f"Password must be at most {MAX_PASSWORD_LENGTH} characters long."
    if normalised.casefold() in common_passwords() or normalised.lower() in common_passwords():
        return "Password is too common; choose a less predictable one."
    return None
