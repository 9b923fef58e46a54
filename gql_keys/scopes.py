"""The closed set of scopes a key can carry; ``*_WRITE`` grants the matching ``*_READ``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    SPOT_READ = "SPOT_READ"
    SPOT_WRITE = "SPOT_WRITE"
    MARGIN_READ = "MARGIN_READ"
    MARGIN_WRITE = "MARGIN_WRITE"
    FUTURES_READ = "FUTURES_READ"
    FUTURES_WRITE = "FUTURES_WRITE"
    DELIVERY_READ = "DELIVERY_READ"
    DELIVERY_WRITE = "DELIVERY_WRITE"
    OPTIONS_READ = "OPTIONS_READ"
    OPTIONS_WRITE = "OPTIONS_WRITE"
    WALLET_READ = "WALLET_READ"
    WALLET_WRITE = "WALLET_WRITE"
    ACCOUNT_READ = "ACCOUNT_READ"
    ACCOUNT_WRITE = "ACCOUNT_WRITE"
    WITHDRAW = "WITHDRAW"


@dataclass(frozen=True, slots=True)
class ScopeDescription:
    scope: Scope
    title: str
    description: str
    area: str


_AREAS = {
    "SPOT": ("spot", "spot trading"),
    "MARGIN": ("margin", "margin trading and loans"),
    "FUTURES": ("futures", "perpetual futures"),
    "DELIVERY": ("delivery", "delivery futures"),
    "OPTIONS": ("options", "options trading"),
    "WALLET": ("wallet", "wallet balances and transfers between accounts"),
    "ACCOUNT": ("account", "account settings and sub-accounts"),
}


def _describe(scope: Scope) -> ScopeDescription:
    if scope is Scope.WITHDRAW:
        return ScopeDescription(
            scope,
            "Withdraw",
            "Withdraw funds to external addresses. Requires an IP allowlist.",
            "withdraw",
        )
    area_key, access = scope.value.rsplit("_", 1)
    area, what = _AREAS[area_key]
    if access == "READ":
        return ScopeDescription(
            scope, f"{area.capitalize()}: read", f"Read {what}: balances, orders, history.", area
        )
    return ScopeDescription(
        scope,
        f"{area.capitalize()}: trade",
        f"Place, change and cancel in {what}. Includes {area.capitalize()}: read.",
        area,
    )


CATALOG: tuple[ScopeDescription, ...] = tuple(_describe(s) for s in Scope)


def implied(scopes: Iterable[Scope | str]) -> frozenset[Scope]:
    """Every scope the given ones grant, including the READ implied by each WRITE."""
    granted: set[Scope] = set()
    for raw in scopes:
        scope = Scope(raw)
        granted.add(scope)
        if scope.value.endswith("_WRITE"):
            granted.add(Scope(scope.value.removesuffix("_WRITE") + "_READ"))
    return frozenset(granted)


def grants(scopes: Iterable[Scope | str], required: Scope | str) -> bool:
    return Scope(required) in implied(scopes)


def read_scope_of(scope: Scope) -> Scope | None:
    """The ``_READ`` scope of ``scope``'s area; None for ``WITHDRAW``, which has none."""
    area, _, access = scope.value.rpartition("_")
    return Scope(f"{area}_READ") if access in ("READ", "WRITE") else None
