"""Process metrics in the Prometheus text format (hand-written, no dependency).

Counters, gauges and histograms are plain numbers updated from the event loop; the
``/metrics`` route renders them. The Redis-backed limiter can count its fallbacks in
``limiter_fallbacks`` and its errors in ``limiter_errors``.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

from starlette.requests import Request
from starlette.responses import Response

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class Counter:
    def __init__(self, name: str, help_text: str, label: str | None = None) -> None:
        self.name, self.help, self.label = name, help_text, label
        self.values: dict[str, float] = {}

    def inc(self, label_value: str = "", amount: float = 1.0) -> None:
        self.values[label_value] = self.values.get(label_value, 0.0) + amount

    def get(self, label_value: str = "") -> float:
        return self.values.get(label_value, 0.0)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        if self.label is None:
            lines.append(f"{self.name} {_number(self.values.get('', 0.0))}")
        else:
            for value, amount in sorted(self.values.items()):
                lines.append(f'{self.name}{{{self.label}="{_escape(value)}"}} {_number(amount)}')
        return lines


class Gauge:
    def __init__(self, name: str, help_text: str, read: Callable[[], float] | None = None) -> None:
        self.name, self.help = name, help_text
        self.value = 0.0
        self.read = read

    def set(self, value: float) -> None:
        self.value = value

    def render(self) -> list[str]:
        value = self.read() if self.read is not None else self.value
        return [
            f"# HELP {self.name} {self.help}",
            f"# TYPE {self.name} gauge",
            f"{self.name} {_number(value)}",
        ]


class Histogram:
    def __init__(self, name: str, help_text: str, buckets: Sequence[float]) -> None:
        self.name, self.help = name, help_text
        self.bounds = tuple(buckets)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        cumulative = 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            cumulative += count
            lines.append(f'{self.name}_bucket{{le="{_number(bound)}"}} {cumulative}')
        lines.append(f'{self.name}_bucket{{le="+Inf"}} {self.count}')
        lines.append(f"{self.name}_sum {_number(self.sum)}")
        lines.append(f"{self.name}_count {self.count}")
        return lines


Metric = Counter | Gauge | Histogram


class Metrics:
    """Every metric of the process, in the order they are rendered."""

    def __init__(self) -> None:
        self.verifications = Counter(
            "gql_keys_verifications_total", "Verification decisions by code.", "code"
        )
        self.verify_executions = Counter(
            "gql_keys_verify_executions_total",
            "verifyApiRequest operations by executor: compiled (the gateway's plain document) "
            "or generic (anything else, e.g. a selection of apiKey).",
            "executor",
        )
        self.verification_seconds = Histogram(
            "gql_keys_verification_seconds",
            "Time to decide and durably log one verification.",
            LATENCY_BUCKETS,
        )
        self.usage_batch_rows = Histogram(
            "gql_keys_usage_log_batch_rows", "Usage-log rows per group commit.", BATCH_BUCKETS
        )
        self.usage_flush_seconds = Histogram(
            "gql_keys_usage_log_flush_seconds",
            "Time to write one usage-log batch.",
            LATENCY_BUCKETS,
        )
        self.usage_queue_depth = Gauge(
            "gql_keys_usage_log_queue_depth", "Usage-log rows waiting to be written."
        )
        self.usage_write_failures = Counter(
            "gql_keys_usage_log_write_failures_total", "Usage-log batches that failed to commit."
        )
        self.key_cache_hits = Counter("gql_keys_key_cache_hits_total", "Key lookups from memory.")
        self.key_cache_misses = Counter(
            "gql_keys_key_cache_misses_total", "Key lookups that read the database."
        )
        self.limiter_errors = Counter(
            "gql_keys_limiter_errors_total",
            "Rate-limiter or replay-cache store errors, by operation.",
            "operation",
        )
        self.limiter_fallbacks = Counter(
            "gql_keys_limiter_fallbacks_total",
            "Decisions taken by the local fallback while the shared store was unavailable.",
            "operation",
        )
        self.partner_requests = Counter(
            "gql_keys_partner_requests_total",
            "Signed partner requests on /graphql by code.",
            "code",
        )
        self.authz_answers = Counter(
            "gql_keys_authz_answers_total",
            "Forward-auth answers on /authz by Gate error label (OK when allowed).",
            "label",
        )
        self.replay_cache_full = Counter(
            "gql_keys_replay_cache_full_total",
            "State-changing requests refused because the in-memory replay cache held only "
            "live fingerprints.",
        )
        self.extra: list[Metric] = []

    def all(self) -> list[Metric]:
        return [
            self.verifications,
            self.verification_seconds,
            self.verify_executions,
            self.partner_requests,
            self.authz_answers,
            self.usage_batch_rows,
            self.usage_flush_seconds,
            self.usage_queue_depth,
            self.usage_write_failures,
            self.key_cache_hits,
            self.key_cache_misses,
            self.limiter_errors,
            self.limiter_fallbacks,
            self.replay_cache_full,
            *self.extra,
        ]

    def render(self) -> str:
        lines: list[str] = []
        for metric in self.all():
            lines.extend(metric.render())
        return "\n".join(lines) + "\n"


async def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics``."""
    rt = request.app.state.rt
    return Response(rt.metrics.render(), media_type=CONTENT_TYPE)
