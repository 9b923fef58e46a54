"""What the application's lifespan sets for the process, and gives back."""

from __future__ import annotations

import gc
from pathlib import Path

from gql_keys.app import GC_THRESHOLDS, create_app
from gql_keys.settings import Settings


async def test_lifespan_collects_young_objects_less_often_and_restores_the_thresholds(
    tmp_path: Path, master_key: str
) -> None:
    before = gc.get_threshold()
    app = create_app(Settings(data_dir=tmp_path / "data", master_key=master_key))
    async with app.router.lifespan_context(app):
        assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_threshold() == before
