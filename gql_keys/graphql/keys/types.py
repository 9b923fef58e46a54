"""The ``ApiKey`` type and its enums; storage details (sealed secret, public key) stay out."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gql_keys.global_ids import encode_global_id
from gql_keys.graphql.context import Info
from gql_keys.graphql.enums import (
    ChallengePurpose,
    KeyAlgorithm,
    KeyStatus,
    QuarantineReason,
    Scope,
)
from gql_keys.graphql.loaders import sub_account_loader
from gql_keys.graphql.node import Node
from gql_keys.graphql.usage.buckets import usage_field
from gql_keys.models import ApiKey as ApiKeyRow
from gql_keys.services.key_challenges import Challenge
from gql_keys.services.keys import status_of

if TYPE_CHECKING:
    from gql_keys.graphql.sub_accounts.types import SubAccountType

SubAccountRef = Annotated["SubAccountType", strawberry.lazy("gql_keys.graphql.sub_accounts.types")]


@strawberry.type
class RateLimit:
    requests: int
    per_seconds: int


@strawberry.type(description="A confirmed change still cooling off, and when it takes effect.")
class PendingKeyChange:
    effective_at: datetime
    scopes: list[Scope] = strawberry.field(description="The key's scopes from effectiveAt.")
    ip_allowlist: list[str] = strawberry.field(description="The key's allowlist from effectiveAt.")


@strawberry.type(name="ApiKey")
class ApiKeyType(Node):
    key: str = strawberry.field(description="The public identifier sent in the KEY header.")
    label: str
    algorithm: KeyAlgorithm
    scopes: list[Scope]
    ip_allowlist: list[str]
    created_at: datetime
    expires_at: datetime | None
    expiry_clamped: bool = strawberry.field(
        description="True when expiresAt was shortened by the limit on keys without an "
        "IP allowlist."
    )
    last_used_at: datetime | None = strawberry.field(description="The last allowed request.")
    last_used_ip: str | None
    rolled_at: datetime | None = strawberry.field(
        description="When the secret (or public key) was last rolled; null for a key never "
        "rolled. Usage logs since then with signedWithPreviousSecret: true are the requests "
        "still signed with the old one."
    )
    canary: bool = strawberry.field(
        description="A decoy: every use is denied (CANARY_TRIPPED) and reported to the owner."
    )
    quarantined_at: datetime | None = strawberry.field(
        description="Set while quarantined: only reads and order cancellations verify."
    )
    quarantine_reason: QuarantineReason | None
    usage = usage_field
    row: strawberry.Private[ApiKeyRow]

    @strawberry.field(
        description="ACTIVE, EXPIRED (past expiresAt), DELETED or QUARANTINED (leave it by "
        "rolling the key, releasing it or deleting it)."
    )
    def status(self, info: Info) -> KeyStatus:
        return status_of(self.row, info.context.rt.clock.now())

    @strawberry.field(
        description="A confirmed change granting WITHDRAW (or widening the allowlist of a "
        "key that holds it), cooling off until effectiveAt; scopes and ipAllowlist are in "
        "force until then."
    )
    def pending_change(self) -> PendingKeyChange | None:
        row = self.row
        if (
            row.pending_effective_at is None
            or row.pending_scopes is None
            or row.pending_ip_allowlist is None
        ):
            return None
        return PendingKeyChange(
            effective_at=row.pending_effective_at,
            scopes=[Scope(s) for s in row.pending_scopes],
            ip_allowlist=list(row.pending_ip_allowlist),
        )

    @strawberry.field(description="The key's own limit, or the platform default.")
    def rate_limit(self, info: Info) -> RateLimit:
        settings = info.context.rt.settings
        row = self.row
        if row.rate_limit_requests is not None and row.rate_limit_per_seconds is not None:
            return RateLimit(
                requests=row.rate_limit_requests, per_seconds=row.rate_limit_per_seconds
            )
        return RateLimit(
            requests=settings.default_rate_limit_requests,
            per_seconds=settings.default_rate_limit_per_seconds,
        )

    @strawberry.field(
        description="Set while the secret (or public key) in force before the last roll "
        "still verifies; null otherwise."
    )
    def previous_secret_expires_at(self, info: Info) -> datetime | None:
        until = self.row.previous_secret_expires_at
        if until is None or until <= info.context.rt.clock.now():
            return None
        return until

    @strawberry.field(
        description="The sub-account the key belongs to; null for the master's own keys."
    )
    async def sub_account(self, info: Info) -> SubAccountRef | None:
        from gql_keys.graphql.sub_accounts.types import SubAccountType

        if self.row.sub_account_id is None:
            return None
        # Whoever may read the key reads which account it acts for.
        row = await sub_account_loader(info.context).load(self.row.sub_account_id)
        return SubAccountType.from_row(row) if row is not None else None

    @classmethod
    def from_row(cls, row: ApiKeyRow) -> ApiKeyType:
        return cls(
            id=strawberry.ID(encode_global_id("ApiKey", row.id)),
            key=row.key,
            label=row.label,
            algorithm=KeyAlgorithm(row.algorithm),
            scopes=[Scope(s) for s in row.scopes],
            ip_allowlist=list(row.ip_allowlist),
            created_at=row.created_at,
            expires_at=row.expires_at,
            expiry_clamped=row.expiry_clamped,
            last_used_at=row.last_used_at,
            last_used_ip=row.last_used_ip,
            rolled_at=row.rolled_at,
            canary=row.canary,
            quarantined_at=row.quarantined_at,
            quarantine_reason=(
                QuarantineReason(row.quarantine_reason) if row.quarantine_reason else None
            ),
            row=row,
        )


@strawberry.type
class TwoFactorChallenge:
    id: strawberry.ID
    expires_at: datetime
    purpose: ChallengePurpose = strawberry.field(
        description="What verifyTwoFactor will do: create the key, apply the stored "
        "update, roll the secret, release the key from quarantine, unlock a sub-account or "
        "create a webhook endpoint."
    )

    @classmethod
    def from_challenge(cls, challenge: Challenge) -> TwoFactorChallenge:
        return cls(
            id=strawberry.ID(challenge.public_id),
            expires_at=challenge.expires_at,
            purpose=challenge.purpose,
        )
