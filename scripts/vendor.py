"""Fetch the browser libraries of the dashboard and of GraphiQL at pinned versions.

    python scripts/vendor.py           # fetch, verify, copy into each package's static/vendor
    python scripts/vendor.py --check   # only compare the committed files with the records

The dashboard's libraries go to ``gql_keys/dashboard/static/vendor``, GraphiQL's (React,
ReactDOM and GraphiQL's own bundle) to ``gql_keys/graphiql/static/vendor``.

Each package is fetched with ``npm pack`` (so the registry configured for npm is used),
its tarball checked against the pinned ``integrity`` (npm's sha512), and the few ES-module
files the dashboard imports copied out with the package's licence. Bare imports are
rewritten to relative paths, since browsers resolve nothing else without an import map
(and an inline import map would need ``'unsafe-inline'``). Each ``vendor/VERSIONS.json``
records versions, tarball integrity and the sha256 of every copied file.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "gql_keys"
DASHBOARD = PACKAGE / "dashboard" / "static" / "vendor"
GRAPHIQL = PACKAGE / "graphiql" / "static" / "vendor"
RECORD = "VERSIONS.json"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str
    files: dict[str, str]  # path in the tarball -> path under vendor/
    licence: str = "LICENSE"
    rewrites: dict[str, str] = field(default_factory=dict)  # text -> replacement
    home: Path = DASHBOARD  # the vendor folder it is copied into


PACKAGES = (
    Package(
        "preact",
        "11.2.0",
        "sha512-/HfHI/7N84e6GrWBJ3J280z3mLaRJiDcSvj/A+y/4AbLnND/1UlGHe1sR6oYuTGwId0nP7dqDU9OnLxMPZ7xBg==",
        {"dist/preact.mjs": "preact/preact.mjs", "hooks/dist/hooks.mjs": "preact/hooks.mjs"},
        rewrites={'from"preact"': 'from"./preact.mjs"'},
    ),
    Package(
        "htm",
        "3.1.1",
        "sha512-983Vyg8NwUE7JkZ6NmOqpCZ+sh1bKv2iYTlUkzlWmA5JD2acKoxd4KVxbMmxX/85mtfdnDmTFoNKcg5DGAvxNQ==",
        {"dist/htm.mjs": "htm/htm.mjs"},
    ),
    Package(
        "graphql-ws",
        "6.4.2",
        "sha512-wxhPhhOGJo8PbGDkBYVE76sZLDrS+GkyrR4bZECSLVbo0pZZNKs0HtBh2Ip/uaUuiVUxwO9ssI9R92buQfNSqQ==",
        {
            "dist/client.js": "graphql-ws/client.js",
            "dist/common-CGW11Fyb.js": "graphql-ws/common-CGW11Fyb.js",
        },
        licence="LICENSE.md",
    ),
    Package(
        "uplot",
        "1.6.32",
        "sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==",
        {"dist/uPlot.esm.js": "uplot/uPlot.esm.js", "dist/uPlot.min.css": "uplot/uPlot.min.css"},
    ),
    # 1.x is the MIT line (2.x is AGPL). Its build is UMD only: given an ``exports`` object
    # it fills that instead of a global, and the appended line makes it an ES module.
    Package(
        "ua-parser-js",
        "1.0.41",
        "sha512-LbBDqdIC5s8iROCUjMbW1f5dJQTEFB1+KO9ogbvlb3nm9n4YHa5p4KTvFPWvh2Hs8gZMBuiB1/8+pdfe/tDPug==",
        {"dist/ua-parser.min.js": "ua-parser-js/ua-parser.mjs"},
        licence="license.md",
        rewrites={
            "/* UAParser.js v1.0.41": "const exports = {};\n/* UAParser.js v1.0.41",
            '})(typeof window==="object"?window:this);': (
                '})(typeof window==="object"?window:this);\n'
                "export const UAParser = exports.UAParser;"
            ),
        },
    ),
    # GraphiQL 3 is the last release with a UMD bundle that runs from plain <script> tags
    # (React 18 globals); GraphiQL 4+ needs a bundler.
    Package(
        "react",
        "18.3.1",
        "sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==",
        {"umd/react.production.min.js": "react/react.production.min.js"},
        home=GRAPHIQL,
    ),
    Package(
        "react-dom",
        "18.3.1",
        "sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw==",
        {"umd/react-dom.production.min.js": "react-dom/react-dom.production.min.js"},
        home=GRAPHIQL,
    ),
    Package(
        "graphiql",
        "3.8.3",
        "sha512-cuPDYtXVKV86Pu5PHBX642Odi/uVEE2y1Jxq5rGO/Qy1G2lRp7ZZ7a/T30RzxhuLSWo9zUbzq0P3U49//H0Ugw==",
        {
            "graphiql.min.js": "graphiql/graphiql.min.js",
            "graphiql.min.css": "graphiql/graphiql.min.css",
        },
        home=GRAPHIQL,
    ),
)
HOMES = tuple(dict.fromkeys(package.home for package in PACKAGES))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(package: Package, workdir: Path) -> Path:
    """Download the tarball with ``npm pack`` and check it against the pinned integrity."""
    out = subprocess.run(  # noqa: S603 - fixed arguments; npm is found on PATH on purpose
        ["npm", "pack", f"{package.name}@{package.version}", "--json", "--silent"],  # noqa: S607
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    filename: str = json.loads(out)[0]["filename"]
    tarball = workdir / filename
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != package.integrity:
        raise SystemExit(f"{package.name}@{package.version}: tarball integrity mismatch")
    return tarball


def extract(package: Package, tarball: Path) -> dict[str, bytes]:
    """The files to vendor (rewritten) and the licence, by their path under vendor/."""
    wanted = {**package.files, package.licence: f"licenses/{package.name}-{package.licence}"}
    found: dict[str, bytes] = {}
    with tarfile.open(tarball) as archive:
        for source, target in wanted.items():
            member = archive.extractfile(f"package/{source}")
            if member is None:
                raise SystemExit(f"{package.name}: {source} missing from the tarball")
            data = member.read()
            for old, new in package.rewrites.items():
                data = data.replace(old.encode(), new.encode())
            found[target] = data
    return found


def vendor() -> None:
    records: dict[Path, dict[str, object]] = {home: {} for home in HOMES}
    with tempfile.TemporaryDirectory() as tmp:
        for package in PACKAGES:
            files = extract(package, fetch(package, Path(tmp)))
            for target, data in files.items():
                path = package.home / target
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            records[package.home][package.name] = {
                "version": package.version,
                "integrity": package.integrity,
                "files": {target: sha256(data) for target, data in sorted(files.items())},
            }
    for home, record in records.items():
        (home / RECORD).write_text(json.dumps(record, indent=2) + "\n")
        print(f"vendored {len(record)} packages into {home}")


def check() -> int:
    """Compare the committed files with the records; 1 when any differs or is missing."""
    bad = [
        home / target
        for home in HOMES
        for entry in json.loads((home / RECORD).read_text()).values()
        for target, digest in entry["files"].items()
        if not (home / target).is_file() or sha256((home / target).read_bytes()) != digest
    ]
    for path in bad:
        print(f"{path.relative_to(PACKAGE)}: differs from {RECORD}", file=sys.stderr)
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify, do not fetch")
    if parser.parse_args().check:
        return check()
    vendor()
    return check()


if __name__ == "__main__":
    sys.exit(main())
