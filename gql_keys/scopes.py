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


# Title, area and what the scope lets a partner do, written per scope: a person ticking
# the box should know what the key can and cannot do without reading the API reference.
_CATALOG_TEXT: dict[Scope, tuple[str, str, str]] = {
    Scope.SPOT_READ: (
        "Spot: read",
        "spot",
        "See spot balances, open orders, trade history and fills. Cannot place or cancel orders.",
    ),
    Scope.SPOT_WRITE: (
        "Spot: trade",
        "spot",
        "Place, amend and cancel spot orders. Includes Spot: read.",
    ),
    Scope.MARGIN_READ: (
        "Margin: read",
        "margin",
        "See margin balances, loans, interest and margin orders.",
    ),
    Scope.MARGIN_WRITE: (
        "Margin: trade",
        "margin",
        "Borrow and repay, move collateral, and place or cancel margin orders. Includes "
        "Margin: read.",
    ),
    Scope.FUTURES_READ: (
        "Futures: read",
        "futures",
        "See perpetual futures positions, orders, funding payments and account history.",
    ),
    Scope.FUTURES_WRITE: (
        "Futures: trade",
        "futures",
        "Open and close perpetual futures positions, set leverage, place and cancel orders. "
        "Includes Futures: read.",
    ),
    Scope.DELIVERY_READ: (
        "Delivery: read",
        "delivery",
        "See delivery futures positions, orders and settlement history.",
    ),
    Scope.DELIVERY_WRITE: (
        "Delivery: trade",
        "delivery",
        "Open and close delivery futures positions, place and cancel their orders. Includes "
        "Delivery: read.",
    ),
    Scope.OPTIONS_READ: (
        "Options: read",
        "options",
        "See options positions, orders and settlement history.",
    ),
    Scope.OPTIONS_WRITE: (
        "Options: trade",
        "options",
        "Buy and sell options contracts, place and cancel their orders. Includes Options: read.",
    ),
    Scope.WALLET_READ: (
        "Wallet: read",
        "wallet",
        "See wallet balances, deposit addresses, and the history of deposits, withdrawals "
        "and transfers.",
    ),
    Scope.WALLET_WRITE: (
        "Wallet: trade",
        "wallet",
        "Move funds between your own trading accounts and sub-accounts. Sends nothing out of "
        "the platform: that is Withdraw. Includes Wallet: read.",
    ),
    Scope.ACCOUNT_READ: (
        "Account: read",
        "account",
        "See account details, fee tier, sub-accounts and their settings.",
    ),
    Scope.ACCOUNT_WRITE: (
        "Account: trade",
        "account",
        "Change account settings and manage sub-accounts. Includes Account: read.",
    ),
    Scope.WITHDRAW: (
        "Withdraw",
        "withdraw",
        "Send funds to external addresses. Requires an IP allowlist.",
    ),
}


def _describe(scope: Scope) -> ScopeDescription:
    title, area, description = _CATALOG_TEXT[scope]
    return ScopeDescription(scope, title, description, area)


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
