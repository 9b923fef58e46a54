"""Failure counters shared by every worker (login and second-factor throttling)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ThrottleCounter(Model):
    id = fields.BigIntField(primary_key=True)
    # e.g. "login:account:42", "login:address:203.0.113.7", "totp:42"
    subject = fields.CharField(max_length=200, unique=True)
    failures = fields.IntField(default=0)
    window_started_at = fields.DatetimeField()
    blocked_until = fields.DatetimeField(null=True)
    # How many times the subject was blocked in a row: the back-off grows with it.
    strikes = fields.IntField(default=0)

    class Meta:
        table = "throttle_counters"
