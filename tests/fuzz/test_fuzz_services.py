"""Property tests of the pure parsers and policies: only domain errors, never a crash."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import example, given, settings
from hypothesis import strategies as st

from gql_keys.app_logging import REDACTED, redact_text
from gql_keys.domain_errors import DomainError, InvalidInput
from gql_keys.global_ids import InvalidGlobalId, decode_global_id
from gql_keys.graphql.node import decode_int_id
from gql_keys.graphql.pagination import decode_cursor, page_size
from gql_keys.scopes import Scope
from gql_keys.security.signing import parse_ed25519_public_key, parse_timestamp
from gql_keys.services.key_policy import KeyAlgorithm, NewKeyRequest, validate_new_key
from gql_keys.settings import Settings
from tests.fuzz import strategies as s

FAST = settings(max_examples=150, deadline=None)
NOW = datetime(2026, 11, 25, tzinfo=UTC)
# Any offset GraphQL's DateTime accepts, so 0001-01-01T00:00+14:00 is among them.
OFFSETS = st.builds(
    timezone,
    st.timedeltas(
        min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
    ),
)


@FAST
@given(s.timestamps)
def test_timestamps_parse_to_a_finite_number_or_none(text: str) -> None:
    value = parse_timestamp(text)
    assert value is None or value == value  # never NaN


@FAST
@given(st.one_of(s.text, s.signatures))
def test_public_keys_parse_to_32_bytes_or_none(text: str) -> None:
    raw = parse_ed25519_public_key(text)
    assert raw is None or len(raw) == 32


@FAST
@given(s.global_ids, st.sampled_from(["ApiKey", "User"]))
def test_global_ids_decode_or_fail_cleanly(global_id: str, type_name: str) -> None:
    with contextlib.suppress(InvalidGlobalId):
        decode_global_id(global_id)
    pk = decode_int_id(global_id, type_name)
    assert pk is None or pk >= 0


@FAST
@given(s.cursors, st.integers(1, 4))
def test_cursors_decode_or_are_an_input_error(cursor: str, arity: int) -> None:
    failure: DomainError | None = None
    try:
        values = decode_cursor(cursor, arity)
    except DomainError as exc:
        failure = exc
    if failure is not None:
        assert failure.field == ("after",)
    else:
        assert len(values) == arity


@FAST
@given(st.one_of(st.none(), s.ints))
def test_page_sizes_are_within_one_and_one_hundred(first: int | None) -> None:
    try:
        size = page_size(first)
    except DomainError:
        assert first is not None
        assert not 1 <= first <= 100
    else:
        assert 1 <= size <= 100


@FAST
@given(
    label=s.text,
    scopes=st.lists(st.sampled_from(list(Scope)), max_size=20),
    allowlist=s.allowlists,
    expires=st.one_of(st.none(), st.datetimes(timezones=OFFSETS)),
    algorithm=st.sampled_from(list(KeyAlgorithm)),
    public_key=st.one_of(st.none(), s.text, s.signatures),
    requests=st.one_of(st.none(), s.ints),
    per_seconds=st.one_of(st.none(), s.ints),
)
@example(  # found by the API fuzz: astimezone(UTC) overflowed
    label="k",
    scopes=[Scope.SPOT_READ],
    allowlist=None,
    expires=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
    algorithm=KeyAlgorithm.HMAC_SHA512,
    public_key=None,
    requests=None,
    per_seconds=None,
)
def test_new_key_requests_validate_or_list_input_errors(
    label: str,
    scopes: list[Scope],
    allowlist: list[str] | None,
    expires: datetime | None,
    algorithm: KeyAlgorithm,
    public_key: str | None,
    requests: int | None,
    per_seconds: int | None,
) -> None:
    request = NewKeyRequest(
        label=label,
        scopes=scopes,
        ip_allowlist=allowlist,
        expires_at=expires,
        algorithm=algorithm,
        public_key=public_key,
        rate_limit_requests=requests,
        rate_limit_per_seconds=per_seconds,
        has_rate_limit=requests is not None or per_seconds is not None,
    )
    try:
        spec = validate_new_key(request, Settings(), NOW)
    except (InvalidInput, DomainError):
        return
    assert 1 <= len(spec.label) <= 64
    assert not any(ch in spec.label for ch in "\x00\n\r\x1b")
    assert spec.scopes
    assert len(spec.ip_allowlist) <= 20
    if "WITHDRAW" in spec.scopes:
        assert spec.ip_allowlist


@FAST
@given(st.text(max_size=200))
def test_redaction_never_raises_and_is_idempotent(text: str) -> None:
    once = redact_text(text)
    assert redact_text(once) == once or REDACTED in once
