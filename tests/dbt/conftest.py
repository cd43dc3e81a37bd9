"""Fixtures: the handcrafted lake, and the warehouse dbt builds from it, once for the whole
tests/dbt directory (see warehouse_scenarios.py for the scenarios)."""

from __future__ import annotations

import shutil

import pytest
from handcrafted_lake import Lake, make_lake, make_settings
from warehouse_scenarios import BuiltWarehouse, build_scenarios

from include.cryptodw.settings import Settings


@pytest.fixture(scope="session")
def lake() -> Lake:
    return make_lake()


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, lake: Lake) -> BuiltWarehouse:
    return build_scenarios(tmp_path_factory.mktemp("dbt") / "data", lake)


@pytest.fixture(scope="session")
def bad_lake_settings(tmp_path_factory: pytest.TempPathFactory, built: BuiltWarehouse) -> Settings:
    """A copy of the good lake (no warehouse yet), for scenarios that land bad rows into it."""
    settings = make_settings(tmp_path_factory.mktemp("dbt-bad") / "data")
    shutil.copytree(built.settings.lake_dir, settings.lake_dir)
    return settings
