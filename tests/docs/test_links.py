"""The project's documents link only to files (and headings) inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [
    "README.md",
    "CONTRIBUTING.md",
    "CHANGELOG.md",
    "SECURITY.md",
    *(str(p.relative_to(ROOT)) for p in sorted((ROOT / "docs").glob("*.md"))),
    "examples/README.md",
]
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"```.*?```", re.S)


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    headings = re.findall(r"^#+ (.+)$", FENCE.sub("", markdown), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("name", DOCUMENTS)
def test_relative_links_point_at_files_and_headings_that_exist(name: str) -> None:
    path = ROOT / name
    text = path.read_text()
    for target in LINK.findall(FENCE.sub("", text)):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        assert linked.exists(), f"{name}: {target} does not exist"
        assert ROOT in linked.parents or linked == ROOT, f"{name}: {target} leaves the repo"
        if anchor:
            assert anchor in anchors(linked.read_text()), f"{name}: no heading for {target}"


UPWARD = re.compile(r"(?:\.\./)+[\w.-]+")


@pytest.mark.parametrize("name", DOCUMENTS)
def test_no_path_in_the_text_climbs_out_of_the_repository(name: str) -> None:
    path = ROOT / name
    text = path.read_text()
    for reference in UPWARD.findall(text):
        resolved = (path.parent / reference).resolve()
        assert ROOT in resolved.parents, f"{name}: {reference} leaves the repository"
    assert "/work/" not in text


def test_the_readme_links_only_to_files_in_the_repository() -> None:
    targets = LINK.findall(FENCE.sub("", (ROOT / "README.md").read_text()))
    assert targets
    assert [t for t in targets if "://" in t] == []
