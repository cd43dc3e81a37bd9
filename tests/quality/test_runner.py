"""`validate_warehouse_layer` on a small DuckDB warehouse, and the runner's error contract."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from include.cryptodw.quality import DataQualityError, runner, validate_frame
from include.cryptodw.quality import validate_warehouse_layer as validate_layer
from include.cryptodw.quality.suites import suite_names


def _create_table(con: duckdb.DuckDBPyConnection, schema: str, name: str, rows: list[dict]) -> None:
    """`rows` as a table; columns named *_date become DATE, as in the dbt models."""
    frame = pd.DataFrame(rows)
    dates = [column for column in frame.columns if column.endswith("_date")]
    replace = ", ".join(f'cast("{c}" as date) as "{c}"' for c in dates)
    con.register("fixture_rows", frame)
    select = f"select * replace ({replace})" if dates else "select *"
    con.execute(f'create table {schema}."{name}" as {select} from fixture_rows')
    con.unregister("fixture_rows")


@pytest.fixture
def warehouse(tmp_path: Path, good_rows) -> Path:
    """A DuckDB file laid out like dbt's: staging views (over tables in `lake`), mart tables."""
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema lake; create schema staging; create schema marts")
        for name in suite_names("staging"):
            _create_table(con, "lake", name, good_rows(name))
            con.execute(f'create view staging."{name}" as select * from lake."{name}"')
        for name in suite_names("marts"):
            _create_table(con, "marts", name, good_rows(name))
    return path


def _execute(path: Path, *statements: str) -> None:
    with duckdb.connect(str(path)) as con:
        for statement in statements:
            con.execute(statement)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("layer", ["staging", "marts"])
def test_valid_layer_passes_read_only_and_leaves_the_file_untouched(
    layer, warehouse, window, monkeypatch, caplog
):
    opened = []
    real_connect = duckdb.connect

    def spy_connect(database, *args, **kwargs):
        opened.append((database, kwargs.get("read_only")))
        return real_connect(database, *args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", spy_connect)
    before = _digest(warehouse)

    with caplog.at_level(logging.INFO, logger=runner.__name__):
        summaries = validate_layer(warehouse, layer, window.start, window.end)

    assert opened == [(str(warehouse), True)]
    assert _digest(warehouse) == before
    assert sorted(s.suite_name for s in summaries) == sorted(suite_names(layer))
    assert all(s.success and s.rows > 0 for s in summaries)
    schema = "staging" if layer == "staging" else "marts"
    assert {s.dataset for s in summaries} == {f"{schema}.{name}" for name in suite_names(layer)}
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("suite ")]
    assert len(lines) == len(summaries)


def test_rows_outside_the_window_are_not_validated(warehouse, window):
    _execute(
        warehouse,
        "insert into marts.liquidations_daily by name select date '2024-03-01' as liquidation_date,"
        " 'binance' as exchange_id, 'BTC' as base_asset, -5.0 as long_liquidations_usd,"
        " 0.0 as short_liquidations_usd, -5.0 as total_liquidations_usd,"
        " 0.0 as long_liquidations_coin, 0.0 as short_liquidations_coin,"
        " 0 as long_liquidation_count, 0 as short_liquidation_count, 0 as liquidation_count,"
        " null as largest_liquidation_usd, true as is_sampled_feed",
        "update lake.stg_binance__funding"
        " set funding_rate = 0.2, _partition_date = date '2024-03-01'"
        " where funding_at = (select min(funding_at) from lake.stg_binance__funding)",
    )

    assert all(s.success for s in validate_layer(warehouse, "marts", window.start, window.end))
    assert all(s.success for s in validate_layer(warehouse, "staging", window.start, window.end))
    with pytest.raises(DataQualityError) as caught:
        validate_layer(warehouse, "marts")
    message = str(caught.value)
    assert "suite liquidations_daily on marts.liquidations_daily" in message
    assert "expect_column_values_to_be_between total_liquidations_usd min_value=0" in message
    assert "1 of 7 rows failed" in message


def test_every_failing_suite_and_gap_is_reported_at_once(warehouse, window):
    _execute(
        warehouse,
        "update marts.prices_daily set low_usd = 101.0"
        " where price_date = date '2024-01-30' and base_asset = 'BTC'",
        "update lake.stg_binance__liquidations set position_side = 'buy'"
        " where liquidated_at = (select min(liquidated_at) from lake.stg_binance__liquidations)",
        "create table marts.funding_daily as select 1 as funding_rate",
        "drop table marts.open_interest_monthly",
        "alter table marts.liquidations_weekly rename column week_start_date to week_start",
    )

    with pytest.raises(DataQualityError) as marts:
        validate_layer(warehouse, "marts", window.start, window.end)
    with pytest.raises(DataQualityError) as staging:
        validate_layer(warehouse, "staging", window.start, window.end)

    assert [s.suite_name for s in marts.value.summaries if not s.success] == ["prices_daily"]
    assert len(marts.value.gaps) == 3
    message = str(marts.value)
    assert "suite prices_daily on marts.prices_daily" in message
    assert "expect_column_pair_values_a_to_be_greater_than_b open_usd, low_usd" in message
    assert "1 of 6 rows failed" in message
    assert "marts.funding_daily has no suite" in message
    assert "marts.open_interest_monthly is missing" in message
    assert "marts.liquidations_weekly could not be read" in message
    assert "suite stg_binance__liquidations on staging.stg_binance__liquidations" in str(
        staging.value
    )
    assert "expect_column_values_to_be_in_set position_side" in str(staging.value)


def test_a_relation_listed_as_unvalidated_is_no_gap(warehouse, window, monkeypatch):
    _execute(warehouse, "create table marts.funding_daily as select 1 as funding_rate")
    monkeypatch.setitem(runner.UNVALIDATED_RELATIONS, "funding_daily", "prototype, not for BI")

    summaries = validate_layer(warehouse, "marts", window.start, window.end)

    assert "funding_daily" not in {s.suite_name for s in summaries}


def test_an_unbuilt_layer_fails_loudly(tmp_path):
    path = tmp_path / "empty.duckdb"
    _execute(path, "create schema marts")

    with pytest.raises(DataQualityError, match="schema staging of .* has no relations"):
        validate_layer(path, "staging")


def test_unknown_layer_and_half_windows_are_rejected(warehouse, window):
    with pytest.raises(ValueError, match="layer"):
        validate_layer(warehouse, "intermediate")
    with pytest.raises(ValueError, match="both"):
        validate_layer(warehouse, "marts", window.start, None)


def test_validate_frame_can_report_without_raising(good_rows, window):
    rows = good_rows("prices_daily")
    rows[0]["close_usd"] = -1.0

    summary = validate_frame(
        pd.DataFrame(rows),
        "prices_daily",
        raise_on_failure=False,
        window_start=window.start,
        window_end=window.end,
    )

    assert not summary.success
    failed = {(f.expectation, f.column, f.failing_rows) for f in summary.failures}
    assert failed == {
        ("expect_column_values_to_be_between", "close_usd", 1),
        ("expect_column_pair_values_a_to_be_greater_than_b", "close_usd, low_usd", 1),
    }
    assert summary.rows == 6
    assert summary.evaluated == len(summary.failures) + len(summary.warnings) + int(
        summary.headline().split(": ")[1].split("/")[0]
    )
