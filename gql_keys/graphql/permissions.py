"""Which kind of principal may call what; failures are top-level errors with a code."""

from __future__ import annotations

from typing import TypeGuard

from gql_keys.domain_errors import Forbidden, Unauthenticated
from gql_keys.graphql.context import Info
from gql_keys.principals import (
    ApiKeyPrincipal,
    Principal,
    ServicePrincipal,
    ServiceRole,
    UserPrincipal,
)


def require_principal(info: Info) -> Principal:
    principal = info.context.principal
    if principal is None:
        raise Unauthenticated()
    return principal


def require_user(info: Info) -> UserPrincipal:
    principal = require_principal(info)
    if not isinstance(principal, UserPrincipal):
        raise Forbidden("Only a logged-in dashboard user may do this.")
    return principal


def require_api_key(info: Info) -> ApiKeyPrincipal:
    principal = require_principal(info)
    if not isinstance(principal, ApiKeyPrincipal):
        raise Forbidden("Only a signed API-key request may do this.")
    return principal


def is_service(principal: Principal | None, role: ServiceRole) -> TypeGuard[ServicePrincipal]:
    return isinstance(principal, ServicePrincipal) and principal.role == role


def require_service(info: Info, role: ServiceRole) -> ServicePrincipal:
    principal = require_principal(info)
    if not is_service(principal, role):
        raise Forbidden(f"Only a service token with role '{role.value}' may do this.")
    return principal


def forbid_machine_principals(info: Info) -> None:
    """Account operations are for people: API keys and service tokens may not call them."""
    if isinstance(info.context.principal, ApiKeyPrincipal | ServicePrincipal):
        raise Forbidden("API keys and service tokens may not manage accounts.")
