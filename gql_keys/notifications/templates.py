"""One plain-text mail per notification type.

``data`` is the notification's payload, as its webhook carries it. Key notifications
name the key: ``id`` (its global id), ``key`` (the public identifier), ``label`` and
``subAccountId``; account notifications name the account (``email``). Either may add
``address`` (the client address involved) and ``userAgent``, and some their own fields:
``effectiveAt`` and ``scopes`` (``key.change_pending``), ``expiresAt`` (``key.expiring``),
``reason`` (``key.quarantined``), ``url`` (``endpoint.disabled``). A template reads only
the fields it names, so nothing else in a payload can ever reach a mail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gql_keys.notifications.mail import Mail

Lines = tuple[str, str]  # (subject, what happened and what to do)

SIGNATURE = (
    "\n\n-- \ngql-keys: API keys of your trading account. This mail never contains a secret."
)


def _text(data: Mapping[str, object], field: str, missing: str = "unknown") -> str:
    value = data.get(field)
    if value is None or value == "":
        return missing
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value) or missing
    # One line per field: a value can't add lines (or headers) of its own to the mail.
    return " ".join(str(value).split())[:200]


def _key(data: Mapping[str, object]) -> str:
    named = f'"{_text(data, "label")}" ({_text(data, "key")})'
    if data.get("subAccountId"):
        named += f", of sub-account {_text(data, 'subAccountId')}"
    return named


def _from(data: Mapping[str, object]) -> str:
    address = _text(data, "address", "")
    return f" from {address}" if address else ""


UNEXPECTED = (
    "If this was not you, sign in, delete the key (or roll its secret) and change your "
    "password: someone may hold your password and an authentication code."
)


def _created(d: Mapping[str, object]) -> Lines:
    return (
        f"New API key {_text(d, 'label')}",
        f"An API key was created on your account{_from(d)}: {_key(d)}.\n\n{UNEXPECTED}",
    )


def _updated(d: Mapping[str, object]) -> Lines:
    return (
        f"API key {_text(d, 'label')} changed",
        f"The settings of your API key {_key(d)} were changed{_from(d)}.\n\n{UNEXPECTED}",
    )


def _rolled(d: Mapping[str, object]) -> Lines:
    return (
        f"New secret for API key {_text(d, 'label')}",
        f"The secret of your API key {_key(d)} was rolled{_from(d)}. Put the new secret "
        f"into your programs before the old one stops working.\n\n{UNEXPECTED}",
    )


def _deleted(d: Mapping[str, object]) -> Lines:
    return (
        f"API key {_text(d, 'label')} deleted",
        f"Your API key {_key(d)} was deleted{_from(d)}; requests signed with it are "
        f"refused from now on.\n\n{UNEXPECTED}",
    )


def _expiring(d: Mapping[str, object]) -> Lines:
    return (
        f"API key {_text(d, 'label')} expires soon",
        f"Your API key {_key(d)} expires at {_text(d, 'expiresAt')}. After that, requests "
        "signed with it are refused. To keep your programs running, create a new key and "
        "move them to it, or extend this key's expiry in API Management.",
    )


def _quarantined(d: Mapping[str, object]) -> Lines:
    reason = _text(d, "reason", "")
    why = {
        "LEAK_REPORTED": "its secret was found where others can read it (a leak report)",
        "OWNER": "you (or someone signed in as you) quarantined it",
    }.get(reason, "of a security report")
    return (
        f"API key {_text(d, 'label')} quarantined",
        f"Your API key {_key(d)} is quarantined because {why}. It still reads and can "
        "cancel orders, so your programs can see and stop what they do, but everything "
        "else is refused.\n\nIf the secret leaked: roll the key's secret in API "
        "Management (the leaked secret stops at once) and put the new one into your "
        "programs. If it was a false alarm: release the key.",
    )


def _canary(d: Mapping[str, object]) -> Lines:
    return (
        f"Canary key {_text(d, 'label')} was used",
        f"Someone used your canary key {_key(d)}{_from(d)}. A canary is a decoy: nobody "
        "but a thief should hold it, and the request was refused.\n\nFind out where it "
        "was planted and what else was stored there: the other secrets kept with it are "
        "probably in the same hands. Roll or delete them.",
    )


def _pending(d: Mapping[str, object]) -> Lines:
    return (
        f"Withdrawals for API key {_text(d, 'label')} from {_text(d, 'effectiveAt')}",
        f"A change that lets your API key {_key(d)} withdraw funds (scopes "
        f"{_text(d, 'scopes')}) was confirmed{_from(d)}. It takes effect at "
        f"{_text(d, 'effectiveAt')}.\n\nIf this was not you, sign in and cancel the "
        "pending change before then, and change your password.",
    )


def _new_sign_in(d: Mapping[str, object]) -> Lines:
    agent = _text(d, "userAgent", "")
    with_agent = f" with {agent}" if agent else ""
    return (
        "New sign-in to your account",
        f"Your account {_text(d, 'email')} was signed in to{_from(d)}{with_agent}, an "
        "address not seen on it in the last 30 days.\n\nIf this was not you, change your "
        "password now and sign out your other sessions in the Security view.",
    )


def _password_changed(d: Mapping[str, object]) -> Lines:
    return (
        "Your password was changed",
        f"The password of your account {_text(d, 'email')} was changed{_from(d)}.\n\n"
        "If this was not you, reset it now and check your API keys.",
    )


def _two_factor_disabled(d: Mapping[str, object]) -> Lines:
    return (
        "Two-factor authentication turned off",
        f"Two-factor authentication was turned off on your account {_text(d, 'email')}"
        f"{_from(d)}. Without it nobody can create or change API keys.\n\nIf this was "
        "not you, change your password and turn it on again.",
    )


def _endpoint_disabled(d: Mapping[str, object]) -> Lines:
    return (
        "A webhook endpoint was turned off",
        f"The last 20 deliveries to your webhook endpoint {_text(d, 'url')} all failed, "
        "so it no longer receives events. Fix the receiver, then add the endpoint again "
        "in the Notifications view.",
    )


TEMPLATES: Mapping[str, Callable[[Mapping[str, object]], Lines]] = {
    "key.created": _created,
    "key.updated": _updated,
    "key.rolled": _rolled,
    "key.deleted": _deleted,
    "key.expiring": _expiring,
    "key.quarantined": _quarantined,
    "key.canary_tripped": _canary,
    "key.change_pending": _pending,
    "account.new_sign_in": _new_sign_in,
    "account.password_changed": _password_changed,
    "account.two_factor_disabled": _two_factor_disabled,
    "endpoint.disabled": _endpoint_disabled,
}


def render(event_type: str, data: Mapping[str, object], to: str) -> Mail:
    """The mail telling ``to`` about one notification; ``KeyError`` for a type with none."""
    subject, text = TEMPLATES[event_type](data)
    return Mail(to=to, subject=f"[gql-keys] {subject}", body=text + SIGNATURE)
