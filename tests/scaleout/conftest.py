"""Fixtures for multi-process tests: two real servers on PostgreSQL + Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import POSTGRES_URL, REDIS_URL, require_service
from tests.scaleout.cluster import Cluster, start_cluster, stop_cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    postgres = require_service("postgres", POSTGRES_URL)
    redis = require_service("redis", REDIS_URL)
    started = start_cluster(postgres, redis, tmp_path_factory.mktemp("cluster"))
    try:
        yield started
    finally:
        stop_cluster(started, postgres)
