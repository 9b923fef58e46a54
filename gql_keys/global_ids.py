"""Opaque global ids (``Type:pk`` in unpadded URL-safe base64): GraphQL's ``Node.id`` and
the ids ``/authz`` hands to the gateway are the same."""

from __future__ import annotations

import base64
import binascii


class InvalidGlobalId(ValueError):
    """The id is not one this service handed out."""


def encode_global_id(type_name: str, pk: int | str) -> str:
    raw = f"{type_name}:{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_global_id(global_id: str) -> tuple[str, str]:
    if not global_id or len(global_id) > 200:
        raise InvalidGlobalId(global_id)
    padded = global_id + "=" * (-len(global_id) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidGlobalId(global_id) from None
    type_name, sep, pk = raw.partition(":")
    if not sep or not type_name or not pk:
        raise InvalidGlobalId(global_id)
    return type_name, pk
