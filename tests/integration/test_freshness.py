"""Freshness checks: `dbt source freshness` against each raw source's own thresholds.

Each test lands one row per Binance dataset with the real writer, every timestamp of a row set
to a chosen age before now (dbt compares with the database clock, so ages are relative to the
wall clock). Binance's sources warn after 26 h and fail after 50 h. Only the configured venue is
checked: Bybit and OKX, never landed here, would otherwise fail as unreadable.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from include.cryptodw.cli import main
from include.cryptodw.dbt_runner import StaleSourceError, check_freshness
from include.cryptodw.lake.writer import land_records, raw_schema
from include.cryptodw.settings import load_settings

DATASETS = ("klines", "open_interest", "funding", "liquidations")


@pytest.fixture
def binance_only(data_dir, monkeypatch):
    monkeypatch.setenv("CRYPTODW_VENUES", "binance")
    return load_settings()


def _land_aged(settings, dataset: str, age: timedelta) -> None:
    """One row of `dataset` whose every timestamp (the loaded_at field too) is `age` old."""
    when = (datetime.now(UTC) - age).replace(tzinfo=None, microsecond=0)
    schema, _ = raw_schema("binance", dataset)
    row = {}
    for field in schema:
        if pa.types.is_timestamp(field.type):
            row[field.name] = when
        elif pa.types.is_floating(field.type):
            row[field.name] = 1.0
        elif pa.types.is_integer(field.type):
            row[field.name] = 1
        elif pa.types.is_string(field.type):
            row[field.name] = "BTCUSDT" if field.name == "symbol" else "x"
    land_records(
        pa.Table.from_pylist([row], schema=schema),
        raw_dir=settings.raw_dir,
        manifest_dir=settings.manifest_dir,
        venue="binance",
        dataset=dataset,
        part="BTCUSDT",
        window_start=when.date(),
        window_end=when.date() + timedelta(days=1),
    )


def test_a_fresh_lake_passes_and_a_late_source_only_warns(binance_only, capsys):
    for dataset in DATASETS:
        _land_aged(binance_only, dataset, timedelta(hours=30 if dataset == "funding" else 1))

    assert main(["freshness"]) == 0

    printed = capsys.readouterr().out  # dbt's own log lines too
    statuses = dict(re.findall(r"^(binance\.\w+): (\w+): newest row", printed, re.MULTILINE))
    assert statuses == {
        "binance.klines": "pass",
        "binance.open_interest": "pass",
        "binance.liquidations": "pass",
        "binance.funding": "warn",  # past warn_after (26 h), not error_after (50 h)
    }


def test_a_stale_source_fails_naming_it(binance_only):
    for dataset in DATASETS:
        _land_aged(binance_only, dataset, timedelta(days=3 if dataset == "funding" else 1 / 24))

    with pytest.raises(StaleSourceError, match=r"1 source\(s\) are stale:\n  - binance\.funding"):
        check_freshness(binance_only)
