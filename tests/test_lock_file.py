"""uv.lock is what gets installed: it agrees with pyproject.toml, this environment was
installed from it, and the examples need nothing beyond its runtime set."""

from __future__ import annotations

import ast
import importlib.metadata
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
LOCK = tomllib.loads((ROOT / "uv.lock").read_text())
PACKAGES: list[dict[str, Any]] = LOCK["package"]
(OURS,) = [p for p in PACKAGES if p["name"] == PROJECT["name"]]


def locked_versions() -> dict[str, set[str]]:
    """Every locked distribution and its version(s) (one per Python where they differ)."""
    versions: dict[str, set[str]] = {}
    for package in PACKAGES:
        if package["name"] != PROJECT["name"]:
            versions.setdefault(canonicalize_name(package["name"]), set()).add(package["version"])
    return versions


def declared() -> Iterator[tuple[Requirement, str | None]]:
    """pyproject.toml's requirements, each with the extra that asks for it (None: runtime)."""
    for text in PROJECT["dependencies"]:
        yield Requirement(text), None
    for extra, texts in PROJECT["optional-dependencies"].items():
        for text in texts:
            yield Requirement(text), extra


def runtime_closure() -> set[str]:
    """Every distribution the runtime set installs: the project's dependencies without its
    extras, followed through each package's dependencies and requested extras."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for package in PACKAGES:
        by_name.setdefault(canonicalize_name(package["name"]), []).append(package)
    seen: set[str] = set()
    todo: list[dict[str, Any]] = list(OURS["dependencies"])
    while todo:
        dependency = todo.pop()
        name = canonicalize_name(dependency["name"])
        for package in by_name[name]:
            todo.extend(d for d in package.get("dependencies", []) if name not in seen)
            for extra in dependency.get("extra", []):
                todo.extend(package.get("optional-dependencies", {}).get(extra, []))
        seen.add(name)
    return seen


def test_the_lock_records_exactly_the_requirements_of_pyproject() -> None:
    recorded = {
        (
            canonicalize_name(r["name"]),
            tuple(sorted(r.get("extras", []))),
            str(SpecifierSet(r.get("specifier", ""))),
            r.get("marker", ""),
        )
        for r in OURS["metadata"]["requires-dist"]
    }
    wanted = {
        (
            canonicalize_name(req.name),
            tuple(sorted(req.extras)),
            str(req.specifier),
            f"extra == '{extra}'" if extra else "",
        )
        for req, extra in declared()
    }
    assert recorded == wanted, "uv.lock is stale: run `make lock`"
    assert set(OURS["metadata"]["provides-extras"]) == set(PROJECT["optional-dependencies"])


def test_every_locked_version_lies_within_the_pyproject_ranges() -> None:
    versions = locked_versions()
    for requirement, _ in declared():
        for version in versions[canonicalize_name(requirement.name)]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{requirement.name} {version} is outside {requirement.specifier}"
            )


def test_every_lock_entry_is_pinned_with_hashes() -> None:
    for package in PACKAGES:
        if package["name"] == PROJECT["name"]:
            continue
        files = package.get("wheels", []) + ([package["sdist"]] if "sdist" in package else [])
        assert files, package["name"]
        assert all(f["hash"].startswith("sha256:") for f in files), package["name"]


def test_this_environment_was_installed_from_the_lock() -> None:
    """What the tests run on is what the lock pins (``make test`` syncs .venv to it)."""
    if sys.prefix == sys.base_prefix:
        pytest.skip("not in a virtual environment")
    versions = locked_versions()
    installed = {
        canonicalize_name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()
    }
    drifted = {
        name: (version, sorted(versions[name]))
        for name, version in installed.items()
        if name in versions and version not in versions[name]
    }
    assert drifted == {}, "installed versions differ from uv.lock: run `make test` to sync"


def example_imports() -> set[str]:
    modules: set[str] = set()
    for path in (ROOT / "examples" / "python").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    local = {path.stem for path in (ROOT / "examples" / "python").glob("*.py")}
    return modules - local - set(sys.stdlib_module_names) - {"__future__"}


def test_the_python_examples_need_only_the_runtime_set() -> None:
    """``make run``'s .venv runs every example: what they import comes with the runtime."""
    providers = importlib.metadata.packages_distributions()
    runtime = runtime_closure()
    imports = example_imports()
    assert {"httpx", "websockets", "cryptography"} <= imports
    missing = {
        module: providers.get(module)
        for module in imports
        if not {canonicalize_name(d) for d in providers.get(module, [])} & runtime
    }
    assert missing == {}
