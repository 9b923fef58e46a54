import asyncio
import threading
from collections.abc import AsyncIterator

import pytest

from gql_keys.security import passwords
from gql_keys.security.passwords import PasswordHasher, common_passwords, password_problem


@pytest.fixture
async def hasher() -> AsyncIterator[PasswordHasher]:
    instance = PasswordHasher(time_cost=1, memory_cost=1024)
    yield instance
    instance.close()


async def test_hash_uses_argon2id_and_verifies(hasher: PasswordHasher) -> None:
    stored = await hasher.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert await hasher.verify("correct horse battery staple", stored)
    assert not await hasher.verify("correct horse battery stapl", stored)


async def test_verify_against_missing_hash_returns_false(hasher: PasswordHasher) -> None:
    assert await hasher.verify("anything at all", None) is False


async def test_verify_with_malformed_stored_hash_returns_false(hasher: PasswordHasher) -> None:
    assert await hasher.verify("anything at all", "not-a-hash") is False


async def test_long_passwords_are_not_truncated(hasher: PasswordHasher) -> None:
    long_password = "x" * 200 + "a"
    stored = await hasher.hash(long_password)
    assert not await hasher.verify("x" * 200 + "b", stored)
    assert await hasher.verify(long_password, stored)


async def test_equivalent_unicode_forms_verify(hasher: PasswordHasher) -> None:
    stored = await hasher.hash("caf\u00e9 au lait please")
    assert await hasher.verify("cafe\u0301 au lait please", stored)


async def test_hashing_happens_off_the_event_loop(
    hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []
    original = hasher._hash_sync

    def spy(password: str) -> str:
        seen.append(threading.get_ident())
        return original(password)

    monkeypatch.setattr(hasher, "_hash_sync", spy)
    await hasher.hash("correct horse battery staple")
    assert seen
    assert seen[0] != loop_thread


async def test_concurrent_hashes_are_bounded_by_pool_size() -> None:
    instance = PasswordHasher(max_concurrency=2, time_cost=1, memory_cost=1024)
    try:
        results = await asyncio.gather(*(instance.hash(f"password number {i}") for i in range(6)))
        assert len(set(results)) == 6
        assert instance._pool._max_workers == 2
    finally:
        instance.close()


async def test_needs_rehash_when_parameters_change(hasher: PasswordHasher) -> None:
    stored = await hasher.hash("correct horse battery staple")
    assert not hasher.needs_rehash(stored)
    stronger = PasswordHasher(time_cost=2, memory_cost=1024)
    try:
        assert stronger.needs_rehash(stored)
    finally:
        stronger.close()


def test_default_parameters_are_strong() -> None:
    assert passwords.DEFAULT_MEMORY_COST_KIB >= 19456
    assert passwords.DEFAULT_TIME_COST >= 2


def test_common_list_has_at_least_ten_thousand_entries() -> None:
    entries = common_passwords()
    assert len(entries) >= 10_000
    assert all(entry == entry.strip() and not entry.startswith("#") for entry in entries)


@pytest.mark.parametrize("password", ["password1234", "PASSWORD1234", "Password1234"])
def test_common_password_is_rejected_case_insensitively(password: str) -> None:
    problem = password_problem(password)
    assert problem is not None
    assert "common" in problem


def test_short_password_is_rejected() -> None:
    problem = password_problem("a7#kQ9!zP2x")  # 11 characters
    assert problem is not None
    assert "at least 12" in problem


def test_long_password_is_rejected() -> None:
    assert password_problem("x" * 256 + "!") is not None
    assert password_problem("qv8-" * 64) is None


def test_length_counts_code_points_after_nfkc() -> None:
    # Twelve emoji are twelve code points (but 48 UTF-8 bytes).
    assert password_problem("\U0001f600" * 12) is None
    # "\ufb01" (the fi ligature) becomes two characters under NFKC.
    assert password_problem("\ufb01" * 6) is None
    assert password_problem("\u00e9" * 11) is not None


def test_no_composition_rules() -> None:
    assert password_problem("all lower case words here") is None
