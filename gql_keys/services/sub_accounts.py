"""Sub-accounts: created, listed, locked, unlocked (behind a challenge) and deleted by
their master.

A sub-account has no password, e-mail or session: it cannot sign in, and everything
about it is done by its master, with the master's own second factor where the policy
asks for one. Its keys keep ``user_id`` = the master (so the master manages them under
the rules of its own keys) and name the sub-account in ``sub_account_id``.

Locking takes effect at once and needs no code (stopping traffic must be easy);
unlocking needs the master's TOTP. Both, and deletion, reach every worker's key cache
as fast as a key's delete does. Each change is written to the master's security log in
its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gql_keys.broker.events import ActivityEvent, ActivityKind, new_event_id
from gql_keys.db import transaction
from gql_keys.domain_errors import DomainError, ErrorCode
from gql_keys.models import ApiKey, KeyChallenge, SubAccount
from gql_keys.principals import (
    ApiKeyPrincipal,
    Principal,
    ServicePrincipal,
    ServiceRole,
    UserPrincipal,
)
from gql_keys.repositories import keys as keys_repo
from gql_keys.repositories import sub_accounts as repo
from gql_keys.repositories import users as users_repo
from gql_keys.runtime import Runtime
from gql_keys.services.key_challenges import (
    Challenge,
    ChallengePurpose,
    check_open_challenges,
    judge_code,
    key_event,
    open_challenge,
    require_two_factor,
    two_factor_required,
)
from gql_keys.services.key_policy import MAX_LABEL_LENGTH, normalise_label
from gql_keys.services.security_events import ClientInfo, SecurityEventKind, record

NOT_FOUND_MESSAGE = "No such sub-account."


@dataclass(frozen=True, slots=True)
class SubAccountPage:
    rows: list[SubAccount]
    has_next_page: bool
    total_count: int


def not_found(*field: str) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, NOT_FOUND_MESSAGE, field or ("input", "id"))


async def live_sub_account(master_id: int, sub_account_id: int, *field: str) -> SubAccount:
    """One of the master's sub-accounts; NOT_FOUND (on ``field``) for a deleted one or
    anyone else's, exactly like a missing one."""
    row = await repo.get_live(sub_account_id, master_id)
    if row is None:
        raise not_found(*field)
    return row


def may_read_sub_account(principal: Principal | None, row: SubAccount) -> bool:
    """The read rule: its master reads it (deleted or not: its keys' history names it), a
    monitor any, a signed request the sub-account of its own key; anyone else none."""
    if isinstance(principal, UserPrincipal):
        return bool(row.master_id == principal.user_id)
    if isinstance(principal, ServicePrincipal):
        return principal.role is ServiceRole.MONITOR
    if isinstance(principal, ApiKeyPrincipal):
        return bool(row.id == principal.sub_account_id)
    return False


async def sub_accounts_by_ids(ids: list[int]) -> dict[int, SubAccount]:
    """Rows by id (any master): callers decide whether the principal may see them."""
    return {row.id: row for row in await repo.by_ids(ids)}


async def readable_sub_accounts(
    principal: Principal | None, ids: list[int]
) -> dict[int, SubAccount]:
    """Those of ``ids`` the principal may read."""
    return {row.id: row for row in await repo.by_ids(ids) if may_read_sub_account(principal, row)}


async def readable_live_sub_account(
    principal: Principal | None, sub_account_id: int
) -> SubAccount | None:
    """``node(id:)``: a sub-account the principal may read that is not deleted."""
    row = (await readable_sub_accounts(principal, [sub_account_id])).get(sub_account_id)
    return row if row is not None and row.deleted_at is None else None


async def page_sub_accounts(master_id: int, after_id: int | None, limit: int) -> SubAccountPage:
    """The master's live sub-accounts, newest first (keyset on id)."""
    rows = await repo.page(master_id, after_id, limit + 1)
    total = await repo.count_live(master_id)
    return SubAccountPage(rows=rows[:limit], has_next_page=len(rows) > limit, total_count=total)


async def create_sub_account(
    rt: Runtime, master_id: int, label: str, client: ClientInfo
) -> SubAccount:
    """A new, unlocked sub-account; the master needs 2FA (its keys will need codes)."""
    await require_two_factor(master_id, "create sub-accounts")
    clean = normalise_label(label)
    if clean is None:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"A label is 1 to {MAX_LABEL_LENGTH} characters without control characters.",
            ("input", "label"),
        )
    limit = rt.settings.max_sub_accounts
    async with transaction(rt.settings):
        master = await users_repo.lock_user(master_id)  # one count at a time per master
        if master is None or not master.two_factor_enabled:
            raise two_factor_required("create sub-accounts")
        if await repo.count_live(master_id) >= limit:
            raise DomainError(
                ErrorCode.LIMIT_REACHED, f"An account can hold at most {limit} sub-accounts."
            )
        row = await repo.create(master_id, clean, rt.clock.now())
        await _record(rt, row, SecurityEventKind.SUB_ACCOUNT_CREATED, client)
    return row


async def lock_sub_account(
    rt: Runtime, master_id: int, sub_account_id: int, client: ClientInfo
) -> SubAccount:
    """Lock at once, no code needed: its keys answer ACCOUNT_LOCKED on every worker.
    Locking a locked sub-account changes nothing."""
    async with transaction(rt.settings):
        row = await repo.lock_live(sub_account_id, master_id)
        if row is None:
            raise not_found()
        if row.locked_at is not None:
            return row
        row.locked_at = rt.clock.now()
        await repo.set_locked_at(row.id, row.locked_at)
        await _record(rt, row, SecurityEventKind.SUB_ACCOUNT_LOCKED, client)
    await _forget(rt, await repo.live_keys_of(row.id))
    return row


async def unlock_sub_account(
    rt: Runtime, master_id: int, sub_account_id: int, client: ClientInfo
) -> Challenge:
    """A challenge (UNLOCK_SUB_ACCOUNT) that unlocks it once confirmed with a TOTP code.
    It confirms only this lock: after an unlock and a new lock it is CHALLENGE_EXPIRED."""
    now = rt.clock.now()
    await require_two_factor(master_id, "unlock sub-accounts")
    row = await live_sub_account(master_id, sub_account_id, "input", "id")
    if row.locked_at is None:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "This sub-account is not locked.", ("input", "id")
        )
    await check_open_challenges(rt, master_id, now)
    payload = {"sub_account_id": row.id, "locked_at": row.locked_at.isoformat()}
    async with transaction(rt.settings):
        return await open_challenge(
            rt, master_id, None, ChallengePurpose.UNLOCK_SUB_ACCOUNT, now, payload
        )


def _challenged(challenge: KeyChallenge) -> tuple[int, datetime] | None:
    payload = challenge.payload or {}
    pk, locked_at = payload.get("sub_account_id"), payload.get("locked_at")
    if not isinstance(pk, int) or not isinstance(locked_at, str):
        return None
    return pk, datetime.fromisoformat(locked_at)


async def confirm_unlock(
    rt: Runtime, master_id: int, challenge: KeyChallenge, code: str, client: ClientInfo
) -> SubAccount:
    """Judge ``code`` for an UNLOCK_SUB_ACCOUNT challenge (live, not used up) and unlock."""
    target = _challenged(challenge)
    row = await repo.get_live(target[0], master_id) if target is not None else None
    if target is None or row is None:
        raise not_found("input", "challengeId")
    failed = ActivityEvent(
        id=new_event_id(int(rt.clock.time() * 1_000_000_000)),
        kind=ActivityKind.TWO_FACTOR_FAILED,
        occurred_at=rt.clock.now(),
        owner_id=master_id,
        sub_account_id=row.id,
    )
    await judge_code(rt, master_id, challenge, code, client, failed)
    now = rt.clock.now()
    async with transaction(rt.settings):
        consumed = await keys_repo.consume_challenge(
            challenge.id, now, rt.settings.challenge_max_attempts
        )
        if not consumed or not await repo.unlock_if(row.id, master_id, target[1]):
            raise DomainError(
                ErrorCode.CHALLENGE_EXPIRED,
                "This challenge was already used, has expired, or the sub-account changed "
                "since: start again.",
                ("input", "challengeId"),
            )
        row.locked_at = None
        await _record(rt, row, SecurityEventKind.SUB_ACCOUNT_UNLOCKED, client)
    await _forget(rt, await repo.live_keys_of(row.id))
    return row


async def delete_sub_account(
    rt: Runtime, master_id: int, sub_account_id: int, client: ClientInfo
) -> SubAccount:
    """Delete it and its keys at once: they fail verification on every worker."""
    now = rt.clock.now()
    async with transaction(rt.settings):
        row = await repo.lock_live(sub_account_id, master_id)
        if row is None:
            raise not_found()
        keys = await repo.soft_delete(row.id, now)
        row.deleted_at = now
        await _record(rt, row, SecurityEventKind.SUB_ACCOUNT_DELETED, client)
        for key in keys:
            await record(rt, master_id, SecurityEventKind.KEY_DELETED, client, api_key=key)
    await _forget(rt, [key.key for key in keys])
    if keys:
        await rt.broker.publish([key_event(rt, ActivityKind.KEY_DELETED, key) for key in keys])
    return row


async def keys_of_sub_account(
    principal: Principal | None,
    row: SubAccount,
    include_deleted: bool,
    after_id: int | None,
    limit: int,
) -> tuple[list[ApiKey], bool, int]:
    """``SubAccount.apiKeys``: its keys newest first, as far as ``principal`` may read
    keys (its master and a monitor: all; a signed request: only its own; nobody else:
    none)."""
    if not may_read_sub_account(principal, row):
        return [], False, 0
    if isinstance(principal, ApiKeyPrincipal):
        own = [
            key
            for key in await keys_repo.keys_by_ids([principal.api_key_id])
            if key.sub_account_id == row.id and (include_deleted or key.deleted_at is None)
        ]
        shown = [key for key in own if after_id is None or key.id < after_id]
        return shown[:limit], False, len(own)
    rows = await keys_repo.list_user_keys(
        row.master_id, include_deleted, after_id, limit + 1, sub_account_id=row.id
    )
    total = await keys_repo.count_user_keys(row.master_id, include_deleted, sub_account_id=row.id)
    return rows[:limit], len(rows) > limit, total


async def _record(
    rt: Runtime, row: SubAccount, kind: SecurityEventKind, client: ClientInfo
) -> None:
    await record(rt, row.master_id, kind, client, sub_account_id=row.id)


async def _forget(rt: Runtime, keys: list[str]) -> None:
    """Every worker drops its cached copy of these keys (after the commit), as after a
    key's delete."""
    for key in keys:
        await rt.key_invalidator.key_changed(key)
