"""Who is calling: a dashboard user, an API key (partner) or a service token."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ServiceRole(StrEnum):
    VERIFIER = "verifier"
    MONITOR = "monitor"


@dataclass(frozen=True, slots=True)
class UserPrincipal:
    user_id: int
    session_id: int


@dataclass(frozen=True, slots=True)
class ApiKeyPrincipal:
    api_key_id: int
    user_id: int
    key: str
    sub_account_id: int | None = None  # the key's sub-account; None: the master's own key


@dataclass(frozen=True, slots=True)
class ServicePrincipal:
    token_id: int
    name: str
    role: ServiceRole


Principal = UserPrincipal | ApiKeyPrincipal | ServicePrincipal
