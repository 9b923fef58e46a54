"""One settings object, read from ``GQL_KEYS_*`` environment variables (pydantic-settings).

``Settings(...)`` is exactly its arguments over the defaults (tests build it directly);
``load_settings()`` reads the environment. A value that does not parse raises
:class:`SettingsError` naming its variable, which the command line prints as one line.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic_settings
from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from gql_keys.notifications.smtp_urls import parse_smtp_url

ENV_PREFIX = "GQL_KEYS_"

Environment = Literal["development", "production"]
LogLevel = Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]
LogFormat = Literal["console", "json"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """A ``GQL_KEYS_*`` variable has a value that cannot be used."""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "gql-keys"


def _comma_separated(value: object) -> object:
    """``"a, b,,c"`` from the environment becomes ``("a", "b", "c")``; tuples pass through."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(BaseSettings):
    """Every tunable of the service; the defaults are the embedded single-process setup."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True, extra="forbid"
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str = ""
    redis_url: str = ""
    redis_prefix: str = "gql-keys"
    redis_timeout_seconds: float = 0.5
    redis_retry_seconds: float = 1.0
    master_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    env: Environment = "development"
    trusted_proxies: Annotated[tuple[IPNetwork, ...], NoDecode] = ()
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    log_level: LogLevel = "INFO"
    # Unset: readable console lines in development, JSON lines in production.
    log_format: LogFormat | None = None
    # Serve the reference dashboard at ``/`` (static files from the package).
    dashboard: bool = True

    session_idle_seconds: int = 30 * 60
    session_absolute_seconds: int = 12 * 3600
    # Wrong passwords per (account, client address), per account from every address, and
    # per address over every account, each within the failure window.
    login_max_failures_per_account_and_address: int = 10
    login_max_failures_per_account: int = 100
    login_max_failures_per_address: int = 100
    register_max_per_address: int = 20  # per hour
    # Per-address throttles count an IPv6 client by this network prefix (a host holds a /64).
    throttle_ipv6_prefix: int = 64
    login_failure_window_seconds: int = 15 * 60
    two_factor_max_failures: int = 10
    two_factor_failure_window_seconds: int = 15 * 60
    throttle_backoff_base_seconds: int = 60
    throttle_backoff_max_seconds: int = 24 * 3600
    # Half the cores: a login flood saturating the argon2 pool still leaves the event
    # loop a core for verification (bench/login_flood.py).
    password_hash_concurrency: int = Field(
        default_factory=lambda: max(1, (os.cpu_count() or 2) // 2)
    )
    argon2_time_cost: int | None = None
    argon2_memory_cost: int | None = None

    challenge_ttl_seconds: int = 300
    challenge_max_attempts: int = 5
    max_live_keys: int = 20
    max_allowlist_entries: int = 20
    # The widest allowlist network: shorter prefixes (wider networks) are refused.
    allowlist_min_prefix_v4: int = 16
    allowlist_min_prefix_v6: int = 32
    unrestricted_key_max_days: int = 90
    default_rate_limit_requests: int = 1000
    default_rate_limit_per_seconds: int = 10
    max_rate_limit_requests: int = 1_000_000
    # Sub-accounts per master, and the pool every account (a master's own keys, or one
    # sub-account's) shares across its keys; 0 requests turns the pool off.
    max_sub_accounts: int = 100
    account_rate_limit_requests: int = Field(default=10_000, ge=0)
    account_rate_limit_per_seconds: int = Field(default=10, ge=1)
    max_rate_limit_per_seconds: int = 86_400
    # KEY_EXPIRING goes out once per key when it enters its last N days; every worker
    # sweeps for such keys this often (0 turns the sweep off).
    expiry_notice_days: int = 7
    expiry_notice_interval_seconds: float = 60.0
    # WITHDRAW granted to a key (or a wider allowlist on a WITHDRAW key) takes effect only
    # this long after it is confirmed (0: at once). Every worker looks for cooled-off
    # changes this often, besides waking when the next one it knows of is due.
    withdraw_cooling_off_seconds: int = Field(default=86_400, ge=0)
    cooling_off_interval_seconds: float = 60.0
    # GitHub's secret-scanning public keys (ECDSA P-256), for POST /secret-scanning/github.
    secret_scanning_keys_url: str = "https://api.github.com/meta/public_keys/secret_scanning"
    # Where notification mail goes: smtp://, smtp+starttls:// or smtps://[user:password@]
    # host[:port]; unset, each mail is written to the log (development).
    smtp_url: SecretStr = SecretStr("")
    mail_from: str = ""

    signature_window_seconds: float = 60.0
    # Failures before a valid signature (unknown key, bad signature, stale timestamp)
    # per client address and minute; past it they are answered RATE_LIMITED unlogged.
    unsigned_failures_per_minute: int = 60
    # A TOML file of scope rules for /authz replacing the built-in Gate APIv4 ones.
    scope_rules: str = ""
    replay_cache_max_entries: int = 1_000_000
    # Live replay fingerprints one key may hold (fewer when its rate limit allows fewer in
    # a fingerprint's lifetime); past it that key's state-changing requests are
    # RATE_LIMITED. 50,000 x 20 live keys: one account cannot fill the cache above.
    replay_max_live_per_key: int = 50_000
    key_cache_ttl_seconds: float = 5.0
    usage_batch_max_rows: int = 500
    usage_batch_max_wait_ms: float = 2.0
    # PostgreSQL: usage_logs has a partition per UTC day, made this many days ahead by
    # `gql-keys migrate` and by a sweep every worker runs this often (0 turns it off).
    usage_partition_ahead_days: int = Field(default=7, ge=1)
    usage_partition_interval_seconds: float = 3600.0
    # ``gql-keys security-events prune`` deletes security-log rows older than this.
    # NEW_SIGN_IN compares with the last 30 days of sign-ins: a retention under 30 days
    # makes addresses look new sooner.
    # At least 30: a sign-in is "new" when its address has no sign-in in the last 30 days.
    security_event_retention_days: int = Field(default=400, ge=30)

    # Notifications (webhooks and e-mail), delivered from an outbox by every worker.
    # Seconds before each retry of a failed delivery; after the last it is FAILED.
    webhook_retry_schedule: Annotated[tuple[float, ...], NoDecode] = (
        5,
        300,
        1800,
        7200,
        18000,
        36000,
        36000,
    )
    # Unset: allowed in development, refused in production (https to public addresses only).
    webhook_allow_private: bool | None = None
    webhook_timeout_seconds: float = 10.0
    max_webhook_endpoints: int = 10
    # An endpoint whose last N deliveries all FAILED is disabled (and its owner mailed).
    webhook_disable_after_failures: int = 20
    # A claimed delivery not finished by then (its worker died) is due again, same id.
    notification_claim_lease_seconds: float = 60.0
    notification_poll_seconds: float = 1.0
    notification_batch_size: int = 20
    # False: this process writes the outbox but delivers nothing (another one does).
    notification_delivery: bool = True

    max_query_depth: int = 12
    max_aliases: int = 30
    max_expanded_fields: int = 5000
    max_tokens: int = 2000
    max_body_bytes: int = 1024 * 1024
    max_ws_message_bytes: int = 64 * 1024
    queries_over_get: bool = False
    ws_init_timeout_seconds: float = 5.0
    ws_max_subscriptions_per_connection: int = 20
    ws_max_connections_per_principal: int = 50
    ws_subscriber_queue_size: int = 1000
    ws_keepalive_seconds: float = 15.0
    # permessage-deflate on WebSockets: off, since each socket's zlib state costs ~50 KB
    # of memory (5,000 tabs: 250 MB) and every message a compression, to save bytes on
    # events of ~300 bytes.
    ws_compression: bool = False
    # How often a running subscription re-checks that its session or token still holds.
    ws_reauth_seconds: float = 30.0

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only the arguments: the environment is read by load_settings(), once.
        return (init_settings,)

    @field_validator("data_dir", mode="before")
    @classmethod
    def _expand_home(cls, value: object) -> object:
        return Path(value).expanduser() if isinstance(value, str) else value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        value = _comma_separated(value)
        if isinstance(value, tuple | list):
            # strict=False: "10.0.0.1/8" means 10.0.0.0/8, as in nginx's set_real_ip_from.
            return tuple(
                ipaddress.ip_network(v, strict=False) if isinstance(v, str) else v for v in value
            )
        return value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        return _comma_separated(value)

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _schedule(cls, value: object) -> object:
        value = _comma_separated(value)
        if isinstance(value, tuple | list) and any(float(v) < 0 for v in value):
            raise ValueError("retry delays must not be negative")
        return value

    @field_validator("log_level", "log_format", "env", mode="before")
    @classmethod
    def _case_insensitive(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return value.strip().upper() if info.field_name == "log_level" else value.strip().lower()

    @field_validator("smtp_url", mode="after")
    @classmethod
    def _smtp_url(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value():
            parse_smtp_url(value.get_secret_value())
        return value

    @field_validator("mail_from", mode="after")
    @classmethod
    def _mail_sender(cls, value: str, info: ValidationInfo) -> str:
        smtp_url = info.data.get("smtp_url")
        if isinstance(smtp_url, SecretStr) and smtp_url.get_secret_value() and "@" not in value:
            raise ValueError("an address to send from is needed with GQL_KEYS_SMTP_URL")
        return value

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

    @property
    def webhooks_may_reach_private(self) -> bool:
        if self.webhook_allow_private is not None:
            return self.webhook_allow_private
        return not self.production

    @property
    def effective_log_format(self) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.production else "console"

    def with_overrides(self, **changes: Any) -> Settings:
        """A validated copy with ``changes`` applied."""
        return type(self)(**{**dict(self), **changes})


class _Environment(EnvSettingsSource):
    """``GQL_KEYS_<FIELD>`` variables of a given mapping (``os.environ`` by default)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(Settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # Names are matched case-insensitively, as pydantic-settings does by default.
        return {name.lower(): value for name, value in self._environ.items() if value != ""}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from ``GQL_KEYS_<FIELD>`` variables (upper-cased field names)."""
    try:
        return Settings(**_Environment(os.environ if environ is None else environ)())
    except ValidationError as exc:
        raise SettingsError(describe(exc)) from None
    except pydantic_settings.SettingsError as exc:  # a variable it could not decode
        raise SettingsError(str(exc)) from None


def describe(error: ValidationError) -> str:
    """One line naming each variable that did not parse, without echoing its value."""
    problems: dict[str, str] = {}
    for item in error.errors(include_url=False, include_input=False):
        name = f"{ENV_PREFIX}{str(item['loc'][0]).upper()}" if item["loc"] else "settings"
        problems.setdefault(name, item["msg"].removeprefix("Value error, "))
    return "; ".join(f"{name}: {message}" for name, message in problems.items())
