"""Docs and contracts, read from the manifest dbt wrote and the relations it built.

Every model and every column of what was actually built is described; the analyst-facing marts
have exactly the promised columns, in order, with an enforced contract.
"""

from __future__ import annotations

import json

import pytest
from warehouse_scenarios import BuiltWarehouse, query

pytestmark = pytest.mark.slow

LIQUIDATION_MEASURES = [
    "long_liquidations_usd",
    "short_liquidations_usd",
    "total_liquidations_usd",
    "long_liquidations_coin",
    "short_liquidations_coin",
    "long_liquidation_count",
    "short_liquidation_count",
    "liquidation_count",
    "largest_liquidation_usd",
    "is_sampled_feed",
]
OPEN_INTEREST_LEVELS = [
    f"open_interest_{unit}_{agg}"
    for unit in ("coin", "usd")
    for agg in ("close", "avg", "min", "max")
]
OPEN_INTEREST_MEASURES = [
    *OPEN_INTEREST_LEVELS,
    "snapshot_count",
    "open_interest_usd_change_pct",
    "open_interest_coin_change_pct",
]
PERIOD = ["days_in_period", "days_with_data", "is_complete_period"]
GRAIN = ["exchange_id", "base_asset"]
COVERAGE = ["captured_seconds", "capture_coverage_pct", "has_capture_gap"]
TRAILING = [
    *(f"{side}_liquidations_{horizon}_usd" for horizon in ("24h", "7d", "30d")
      for side in ("long", "short")),
    "capture_coverage_7d_pct",
    "capture_coverage_30d_pct",
]  # fmt: skip
LIQUIDATIONS = [*LIQUIDATION_MEASURES, *COVERAGE]
MART_COLUMNS = {
    "liquidations_hourly": ["hour_start_at", "liquidation_date", *GRAIN, *LIQUIDATIONS],
    "liquidations_daily": ["liquidation_date", *GRAIN, *LIQUIDATIONS, *TRAILING],
    "liquidations_weekly": ["week_start_date", *GRAIN, *LIQUIDATIONS, *PERIOD],
    "liquidations_monthly": ["month_start_date", *GRAIN, *LIQUIDATIONS, *PERIOD],
    "open_interest_daily": ["snapshot_date", *GRAIN, *OPEN_INTEREST_MEASURES],
    "open_interest_weekly": ["week_start_date", *GRAIN, *OPEN_INTEREST_MEASURES, *PERIOD],
    "open_interest_monthly": ["month_start_date", *GRAIN, *OPEN_INTEREST_MEASURES, *PERIOD],
    "prices_daily": [
        "price_date",
        *GRAIN,
        *(
            "open_usd",
            "high_usd",
            "low_usd",
            "close_usd",
            "volume_coin",
            "volume_usd",
            "change_pct",
        ),
    ],
}


@pytest.fixture(scope="module")
def manifest(built: BuiltWarehouse) -> dict:
    return json.loads((built.settings.dbt_target_dir / "manifest.json").read_text())


@pytest.fixture(scope="module")
def models(manifest: dict) -> dict[str, dict]:
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["package_name"] == "crypto_warehouse"
    }


@pytest.fixture(scope="module")
def built_columns(built: BuiltWarehouse) -> dict[str, list[str]]:
    """model name -> its columns in the warehouse, in order."""
    rows = query(
        built.settings.warehouse_path,
        "select table_name, column_name from information_schema.columns "
        "where table_schema in ('staging', 'intermediate', 'core', 'marts') "
        "order by table_name, ordinal_position",
    )
    columns: dict[str, list[str]] = {}
    for row in rows:
        columns.setdefault(row["table_name"], []).append(row["column_name"])
    return columns


def test_every_model_is_built_and_described(models, built_columns):
    assert len(models) >= 25
    assert sorted(models) == sorted(built_columns)
    undescribed = [name for name, node in models.items() if not node["description"].strip()]
    assert undescribed == []


def test_every_built_column_is_described_and_no_doc_is_stale(models, built_columns):
    problems = []
    for name, node in models.items():
        documented = {column: spec["description"] for column, spec in node["columns"].items()}
        for column in built_columns[name]:
            if not documented.get(column, "").strip():
                problems.append(f"{name}.{column}: no description")
        problems += [
            f"{name}.{column}: not built"
            for column in documented
            if column not in built_columns[name]
        ]
    assert problems == []


def test_descriptions_state_the_grain(models):
    """STYLE N2: a model's description begins with its grain."""
    assert [
        name for name, node in models.items() if not node["description"].startswith("One row per")
    ] == []


@pytest.mark.parametrize("mart", sorted(MART_COLUMNS))
def test_marts_keep_their_contract(mart, models, built_columns):
    node = models[mart]
    assert node["schema"] == "marts"
    assert node["config"]["contract"]["enforced"] is True
    assert list(node["columns"]) == MART_COLUMNS[mart]
    assert all(spec["data_type"] for spec in node["columns"].values())
    assert built_columns[mart] == MART_COLUMNS[mart]


def test_every_source_column_is_typed_and_described(manifest):
    sources = [s for s in manifest["sources"].values() if s["package_name"] == "crypto_warehouse"]
    assert {s["name"] for s in sources} == {
        "klines",
        "open_interest",
        "funding",
        "liquidations",
        "instruments",
        "manifests",
        "collector_coverage_gaps",
    }
    problems = [
        f"{source['name']}.{column}"
        for source in sources
        for column, spec in source["columns"].items()
        if not (spec["description"].strip() and spec["data_type"])
    ]
    assert problems == []


def test_every_macro_and_generic_test_is_described(manifest):
    macros = [m for m in manifest["macros"].values() if m["package_name"] == "crypto_warehouse"]
    assert {"test_unique_combination_of_columns", "test_expression_is_true"} <= {
        m["name"] for m in macros
    }
    assert [m["name"] for m in macros if not m["description"].strip()] == []
