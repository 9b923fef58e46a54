"""The ``VerificationCode`` GraphQL enum (usage logs, activity events, verification)."""

from __future__ import annotations

import strawberry

from gql_keys.services.verification import VerificationCode

VerificationCodeEnum = strawberry.enum(VerificationCode, name="VerificationCode")

__all__ = ["VerificationCode", "VerificationCodeEnum"]
