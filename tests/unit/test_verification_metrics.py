"""Prometheus text rendering."""

from __future__ import annotations

from gql_keys.metrics import Metrics


def test_render_has_help_type_labels_and_cumulative_buckets() -> None:
    metrics = Metrics()
    metrics.verifications.inc("VALID")
    metrics.verifications.inc("VALID")
    metrics.verification_seconds.observe(0.0007)
    metrics.verification_seconds.observe(3.0)
    text = metrics.render()
    assert "# TYPE gql_keys_verifications_total counter" in text
    assert 'gql_keys_verifications_total{code="VALID"} 2' in text
    assert 'gql_keys_verification_seconds_bucket{le="0.0005"} 0' in text
    assert 'gql_keys_verification_seconds_bucket{le="0.001"} 1' in text
    assert 'gql_keys_verification_seconds_bucket{le="+Inf"} 2' in text
    assert "gql_keys_verification_seconds_count 2" in text
    assert text.endswith("\n")
