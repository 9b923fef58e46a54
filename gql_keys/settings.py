"""One settings object, read from ``GQL_KEYS_*`` environment variables."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

Environment = Literal["development", "production"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """A ``GQL_KEYS_*`` variable has a value that cannot be used."""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "gql-keys"


@dataclass(frozen=True, slots=True)
class Settings:
    """Every tunable of the service; the defaults are the embedded single-process setup."""

    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str = ""
    redis_url: str = ""
    redis_prefix: str = "gql-keys"
    redis_timeout_seconds: float = 0.5
    redis_retry_seconds: float = 1.0
    master_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    env: Environment = "development"
    trusted_proxies: tuple[IPNetwork, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    log_level: str = "INFO"

    session_idle_seconds: int = 30 * 60
    session_absolute_seconds: int = 12 * 3600
    login_max_failures_per_account: int = 10
    login_max_failures_per_address: int = 100
    login_failure_window_seconds: int = 15 * 60
    two_factor_max_failures: int = 10
    two_factor_failure_window_seconds: int = 15 * 60
    throttle_backoff_base_seconds: int = 60
    throttle_backoff_max_seconds: int = 24 * 3600
    # Half the cores: a login flood saturating the argon2 pool still leaves the event
    # loop a core for verification (bench/login_flood.py).
    password_hash_concurrency: int = field(
        default_factory=lambda: max(1, (os.cpu_count() or 2) // 2)
    )
    argon2_time_cost: int | None = None
    argon2_memory_cost: int | None = None

    challenge_ttl_seconds: int = 300
    challenge_max_attempts: int = 5
    max_live_keys: int = 20
    max_allowlist_entries: int = 20
    unrestricted_key_max_days: int = 90
    default_rate_limit_requests: int = 1000
    default_rate_limit_per_seconds: int = 10
    max_rate_limit_requests: int = 1_000_000
    max_rate_limit_per_seconds: int = 86_400

    signature_window_seconds: float = 60.0
    key_cache_ttl_seconds: float = 5.0
    usage_batch_max_rows: int = 500
    usage_batch_max_wait_ms: float = 2.0

    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2000
    max_body_bytes: int = 1024 * 1024
    max_ws_message_bytes: int = 64 * 1024
    queries_over_get: bool = False
    ws_init_timeout_seconds: float = 5.0
    ws_max_subscriptions_per_connection: int = 20
    ws_max_connections_per_principal: int = 50
    ws_subscriber_queue_size: int = 1000
    ws_keepalive_seconds: float = 15.0
    # How often a running subscription re-checks that its session or token still holds.
    ws_reauth_seconds: float = 30.0

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite://{self.data_dir / 'gql-keys.sqlite3'}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def production(self) -> bool:
        return self.env == "production"

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


_INT_FIELDS = {
    name for name, f in Settings.__dataclass_fields__.items() if f.type in ("int", "int | None")
}
_FLOAT_FIELDS = {name for name, f in Settings.__dataclass_fields__.items() if f.type == "float"}
_BOOL_FIELDS = {name for name, f in Settings.__dataclass_fields__.items() if f.type == "bool"}


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _parse(name: str, raw: str) -> object:
    if name == "data_dir":
        return Path(raw).expanduser()
    if name == "env":
        if raw not in ("development", "production"):
            raise SettingsError("GQL_KEYS_ENV must be 'development' or 'production'")
        return raw
    if name == "trusted_proxies":
        try:
            return tuple(ipaddress.ip_network(p, strict=False) for p in _split(raw))
        except ValueError as exc:
            raise SettingsError(f"GQL_KEYS_TRUSTED_PROXIES: {exc}") from None
    if name == "allowed_origins":
        return tuple(_split(raw))
    if name in _BOOL_FIELDS:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if name in _INT_FIELDS:
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"GQL_KEYS_{name.upper()} must be an integer") from None
    if name in _FLOAT_FIELDS:
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"GQL_KEYS_{name.upper()} must be a number") from None
    return raw


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from ``GQL_KEYS_<FIELD>`` variables (upper-cased field names)."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for name in Settings.__dataclass_fields__:
        raw = env.get(f"GQL_KEYS_{name.upper()}")
        if raw is not None and raw != "":
            values[name] = _parse(name, raw)
    return Settings(**values)  # type: ignore[arg-type]
