"""The metrics of one app, rendered in the Prometheus text format."""

from __future__ import annotations

from prometheus_client import Histogram

from gql_keys.metrics import LATENCY_BUCKETS, Metrics


def test_render_has_help_type_labels_and_cumulative_buckets() -> None:
    metrics = Metrics()
    metrics.verifications.inc("VALID")
    metrics.verifications.inc("VALID")
    metrics.verification_seconds.observe(0.0007)
    metrics.verification_seconds.observe(3.0)
    text = metrics.render().decode()
    assert "# TYPE gql_keys_verifications_total counter" in text
    assert 'gql_keys_verifications_total{code="VALID"} 2.0' in text
    assert 'gql_keys_verification_seconds_bucket{le="0.0005"} 0.0' in text
    assert 'gql_keys_verification_seconds_bucket{le="0.001"} 1.0' in text
    assert 'gql_keys_verification_seconds_bucket{le="+Inf"} 2.0' in text
    assert "gql_keys_verification_seconds_count 2.0" in text
    assert text.endswith("\n")


def test_apps_in_one_process_count_apart() -> None:
    first, second = Metrics(), Metrics()
    first.verifications.inc("VALID")
    first.key_cache_hits.inc()
    assert first.value("gql_keys_verifications_total", code="VALID") == 1
    assert second.value("gql_keys_verifications_total", code="VALID") == 0
    assert second.value("gql_keys_key_cache_hits_total") == 0


def test_every_metric_name_dashboards_read_is_rendered() -> None:
    metrics = Metrics()
    metrics.track_redis()
    text = metrics.render().decode()
    for name in (
        "gql_keys_verifications_total",
        "gql_keys_verification_seconds",
        "gql_keys_authz_answers_total",
        "gql_keys_partner_requests_total",
        "gql_keys_usage_log_batch_rows",
        "gql_keys_usage_log_flush_seconds",
        "gql_keys_usage_log_queue_depth",
        "gql_keys_usage_log_write_failures_total",
        "gql_keys_key_cache_hits_total",
        "gql_keys_key_cache_misses_total",
        "gql_keys_limiter_errors_total",
        "gql_keys_limiter_fallbacks_total",
        "gql_keys_redis_available",
        "gql_keys_redis_outages_total",
        "gql_keys_broker_connected",
        "gql_keys_broker_publish_failures_total",
        "gql_keys_broker_reconnects_total",
    ):
        assert f"# TYPE {name} " in text, name
    assert "_created" not in text
    assert "gql_keys_redis_available 1.0" in text


def test_buffered_latency_histogram_renders_what_prometheus_client_would() -> None:
    """Bounds included (``le``), +Inf, sum and count, across several flushes."""
    metrics = Metrics()
    reference = Histogram("reference_seconds", "x", buckets=LATENCY_BUCKETS, registry=None)
    values = [0.0, 0.0005, 0.00051, 0.001, 0.004, 0.025, 1.0, 2.5, 2.6, 40.0]
    for n, value in enumerate(values):
        metrics.verification_seconds.observe(value)
        reference.observe(value)
        if n % 3 == 0:
            metrics.flush()
    text = metrics.render().decode()
    (family,) = list(reference.collect())
    for sample in family.samples:
        name = sample.name.replace("reference_seconds", "gql_keys_verification_seconds")
        labels = "".join(f'{{le="{v}"}}' for v in sample.labels.values())
        assert f"{name}{labels} {float(sample.value)!r}" in text, (name, labels)
