"""Which scope a partner request needs, from its method and path: ordered rules, first
match wins, and a path no rule covers needs a scope nobody holds (fail closed).

The built-in rules follow Gate's APIv4 layout. ``GQL_KEYS_SCOPE_RULES`` names a TOML file
that replaces them::

    [[rule]]
    methods = ["GET", "HEAD"]      # optional: absent means every method
    prefix = "/api/v4/spot/"       # or: glob = "/api/v4/*/orders" (fnmatch, * crosses /)
    scope = "SPOT_READ"
    quarantine_allows = true       # optional: a quarantined key may still do this

A quarantined key verifies only reads (``GET``/``HEAD`` needing a ``_READ`` scope) and the
requests whose first matching rule is marked ``quarantine_allows``: in the built-in rules,
order cancellations (``DELETE`` on ``/api/v4/{spot,margin,futures,delivery,options}/orders…``
and ``…/price_orders…``, also under a futures or delivery settle currency, as Gate lays them
out: ``/api/v4/futures/usdt/orders/12``).

Rules are matched against a path in its one plain spelling: the caller refuses every
other first (:func:`~gql_keys.security.request_target.is_plain_path`), since an upstream
that normalises ``..;``, ``%252e`` or a full-width dot would serve another path than the
one a rule looked at.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from gql_keys.scopes import Scope
from gql_keys.security.request_target import READ_METHODS, method_token
from gql_keys.settings import SettingsError

_AREAS = ("spot", "margin", "futures", "delivery", "options", "wallet", "account")
_RULE_KEYS = frozenset({"methods", "prefix", "glob", "scope", "quarantine_allows"})
_TRADING_AREAS = ("spot", "margin", "futures", "delivery", "options")
_SETTLED_AREAS = ("futures", "delivery")  # Gate puts a settle currency before their orders


class ScopeRulesError(SettingsError):
    """The scope rules file cannot be used; the message names the file and the line."""


@dataclass(frozen=True, slots=True)
class ScopeRule:
    methods: frozenset[str] | None  # None: every method
    prefix: str | None
    glob: str | None
    scope: Scope
    quarantine_allows: bool = False
    pattern: re.Pattern[str] | None = None  # built-in rules only

    def matches(self, method: str, path: str) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        if self.prefix is not None:
            return path.startswith(self.prefix)
        if self.pattern is not None:
            return self.pattern.match(path) is not None
        return self.glob is not None and fnmatch.fnmatchcase(path, self.glob)


@dataclass(frozen=True, slots=True)
class ScopeRules:
    rules: tuple[ScopeRule, ...]

    def rule_for(self, method: str, path: str) -> ScopeRule | None:
        """The first matching rule; None when no rule covers the path.

        ``method`` is upper-case and ``path`` plain (see the module's docstring)."""
        for rule in self.rules:
            if rule.matches(method, path):
                return rule
        return None

    def required_scope(self, method: str, path: str) -> Scope | None:
        """The scope the first matching rule names; None when no rule covers the path."""
        rule = self.rule_for(method, path)
        return rule.scope if rule is not None else None

    def quarantine_allows(self, method: str, path: str) -> bool:
        """Whether the first matching rule lets a quarantined key do this."""
        rule = self.rule_for(method, path)
        return rule is not None and rule.quarantine_allows


def _cancellations(area: str) -> re.Pattern[str]:
    """``/api/v4/<area>/[<settle>/]{orders,price_orders}`` and anything below them."""
    settle = "(?:[^/]+/)?" if area in _SETTLED_AREAS else ""
    return re.compile(rf"/api/v4/{area}/{settle}(?:orders|price_orders)(?:/|$)")


def _builtin() -> ScopeRules:
    rules = [ScopeRule(None, "/api/v4/withdrawals", None, Scope.WITHDRAW)]
    for area in _AREAS:
        prefix = f"/api/v4/{area}/"
        read, write = Scope(f"{area.upper()}_READ"), Scope(f"{area.upper()}_WRITE")
        rules.append(ScopeRule(READ_METHODS, prefix, None, read))
        if area in _TRADING_AREAS:
            # After the read rule, so reads never test it; the same scope as the write rule.
            rules.append(
                ScopeRule(
                    frozenset({"DELETE"}),
                    None,
                    None,
                    write,
                    quarantine_allows=True,
                    pattern=_cancellations(area),
                )
            )
        rules.append(ScopeRule(None, prefix, None, write))
    return ScopeRules(tuple(rules))


BUILTIN = _builtin()


def scope_rules_from(file: str) -> ScopeRules:
    """The rules in force: the file ``GQL_KEYS_SCOPE_RULES`` names, else the built-in."""
    return load_scope_rules(Path(file).expanduser()) if file else BUILTIN


def load_scope_rules(path: Path) -> ScopeRules:
    """Read a rules file; raise :class:`ScopeRulesError` naming the offending line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise ScopeRulesError(f"scope rules file {path}: cannot be read: {exc}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScopeRulesError(f"scope rules file {path}: {exc}") from None
    lines = text.splitlines()
    unknown = sorted(set(document) - {"rule"})
    if unknown:
        line = _line_of_key(lines, 0, len(lines), unknown[0])
        raise ScopeRulesError(f"{path}, line {line}: unknown table or key {unknown[0]!r}")
    tables = document.get("rule")
    if not isinstance(tables, list) or not tables:
        raise ScopeRulesError(f"scope rules file {path}: no [[rule]] tables (fail closed)")
    # Where each [[rule]] table starts, to name the line of a bad value.
    starts = [i for i, line in enumerate(lines) if line.strip().startswith("[[rule]]")]
    spans = (
        list(zip(starts, [*starts[1:], len(lines)], strict=True))
        if len(starts) == len(tables)
        else [(0, len(lines))] * len(tables)
    )
    rules: list[ScopeRule] = []
    for index, (table, (begin, end)) in enumerate(zip(tables, spans, strict=True)):
        try:
            rules.append(_rule(table))
        except _BadRule as exc:
            line = _line_of_key(lines, begin, end, exc.key) if exc.key else begin + 1
            raise ScopeRulesError(f"{path}, line {line}: rule {index + 1}: {exc}") from None
    return ScopeRules(tuple(rules))


class _BadRule(ValueError):
    def __init__(self, key: str | None, message: str) -> None:
        super().__init__(message)
        self.key = key


def _rule(table: object) -> ScopeRule:
    if not isinstance(table, dict):
        raise _BadRule(None, "a rule must be a table")
    extra = sorted(set(table) - _RULE_KEYS)
    if extra:
        raise _BadRule(
            extra[0],
            f"unknown key {extra[0]!r} (use methods, prefix, glob, scope, quarantine_allows)",
        )
    scope_name = table.get("scope")
    if not isinstance(scope_name, str) or scope_name not in Scope.__members__:
        raise _BadRule("scope" if "scope" in table else None, f"unknown scope {scope_name!r}")
    prefix, glob = table.get("prefix"), table.get("glob")
    if (prefix is None) == (glob is None):
        raise _BadRule(None, "give exactly one of prefix or glob")
    pattern_key = "prefix" if prefix is not None else "glob"
    pattern = prefix if prefix is not None else glob
    if not isinstance(pattern, str) or not pattern.startswith("/"):
        raise _BadRule(pattern_key, f"{pattern_key} must be a string starting with '/'")
    quarantine_allows = table.get("quarantine_allows", False)
    if not isinstance(quarantine_allows, bool):
        raise _BadRule("quarantine_allows", "quarantine_allows must be true or false")
    return ScopeRule(
        _methods(table.get("methods")),
        prefix if isinstance(prefix, str) else None,
        glob if isinstance(glob, str) else None,
        Scope(scope_name),
        quarantine_allows=quarantine_allows,
    )


def _methods(value: object) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise _BadRule("methods", "methods must be a non-empty list of method names")
    names: list[str] = []
    for given in value:
        name = method_token(given) if isinstance(given, str) else None
        if name is None:
            raise _BadRule("methods", f"{given!r} is not an HTTP method")
        names.append(name)
    return frozenset(names)


def _line_of_key(lines: list[str], begin: int, end: int, key: str) -> int:
    """The 1-based line in ``begin..end`` where ``key = …`` is written (else ``begin``)."""
    for number in range(begin, min(end, len(lines))):
        if lines[number].strip().split("=", 1)[0].strip().strip('[]"') == key:
            return number + 1
    return begin + 1
