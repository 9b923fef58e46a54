"""Settings come from ``GQL_KEYS_*`` variables; a bad value names its variable."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from pydantic import ValidationError

from gql_keys.settings import Settings, SettingsError, load_settings


def test_variables_are_parsed_into_typed_values() -> None:
    settings = load_settings(
        {
            "GQL_KEYS_PORT": "9000",
            "GQL_KEYS_ENV": "production",
            "GQL_KEYS_QUERIES_OVER_GET": "true",
            "GQL_KEYS_KEY_CACHE_TTL_SECONDS": "2.5",
            "GQL_KEYS_DATA_DIR": "/srv/gql-keys",
            "GQL_KEYS_LOG_LEVEL": "debug",
        }
    )
    assert settings.port == 9000
    assert settings.production
    assert settings.queries_over_get is True
    assert settings.key_cache_ttl_seconds == 2.5
    assert settings.data_dir == Path("/srv/gql-keys")
    assert settings.log_level == "DEBUG"


def test_comma_separated_lists_are_split_and_trimmed() -> None:
    settings = load_settings(
        {
            "GQL_KEYS_TRUSTED_PROXIES": "10.0.0.1/8, ::1 ,",
            "GQL_KEYS_ALLOWED_ORIGINS": "https://a.example,https://b.example",
        }
    )
    assert settings.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1"),
    )
    assert settings.allowed_origins == ("https://a.example", "https://b.example")


def test_empty_and_foreign_variables_leave_the_defaults() -> None:
    settings = load_settings(
        {"GQL_KEYS_PORT": "", "GQL_KEYS_TEST_POSTGRES_URL": "postgres://x", "PORT": "1"}
    )
    assert settings == Settings(data_dir=settings.data_dir)
    assert settings.port == 8000


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GQL_KEYS_PORT", "eighty"),
        ("GQL_KEYS_ENV", "prod"),
        ("GQL_KEYS_TRUSTED_PROXIES", "10.0.0.0/8,not-a-network"),
        ("GQL_KEYS_QUERIES_OVER_GET", "maybe"),
        ("GQL_KEYS_SIGNATURE_WINDOW_SECONDS", "a minute"),
        ("GQL_KEYS_LOG_FORMAT", "xml"),
        ("GQL_KEYS_LOG_LEVEL", "loud"),
        ("GQL_KEYS_SECURITY_EVENT_RETENTION_DAYS", "7"),  # new sign-ins look back 30 days
        ("GQL_KEYS_SMTP_URL", "http://mail.example.com"),
    ],
)
def test_a_bad_value_names_its_variable_on_one_line(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({variable: value})
    message = str(raised.value)
    assert message.startswith(f"{variable}: ")
    assert "\n" not in message


def test_every_bad_variable_is_named() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"GQL_KEYS_PORT": "x", "GQL_KEYS_MAX_TOKENS": "y"})
    assert "GQL_KEYS_PORT" in str(raised.value)
    assert "GQL_KEYS_MAX_TOKENS" in str(raised.value)


def test_constructed_settings_ignore_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GQL_KEYS_PORT", "1234")
    assert Settings().port == 8000
    assert load_settings().port == 1234


def test_settings_are_immutable_and_overrides_are_validated_copies() -> None:
    settings = Settings(port=8000)
    with pytest.raises(ValidationError):
        settings.port = 1  # type: ignore[misc]
    changed = settings.with_overrides(port=9001, allowed_origins=("https://a.example",))
    assert (settings.port, changed.port) == (8000, 9001)
    assert changed.allowed_origins == ("https://a.example",)
    with pytest.raises(ValidationError):
        settings.with_overrides(port="not a port")


def test_log_format_follows_the_environment_unless_set() -> None:
    assert Settings().effective_log_format == "console"
    assert Settings(env="production").effective_log_format == "json"
    assert Settings(env="production", log_format="console").effective_log_format == "console"
