"""dbt build over the handcrafted lake: mart figures, incremental windows, re-runs, bad rows.

Every expected figure is computed here, in Python, from the handcrafted records and this
file's own reading of Binance's semantics (order side SELL liquidates a long; liquidated
notional = filled quantity x average fill price; open interest closes on the day's last
snapshot), never with the warehouse's SQL.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import defaultdict
from datetime import date, timedelta
from statistics import fmean

import duckdb
import pytest
from handcrafted_lake import (
    BAD_DAY,
    FEBRUARY,
    JANUARY,
    NO_LIQUIDATION_DAY,
    OI_DUPLICATED_SNAPSHOT,
    OI_MISSING_DAY,
    OI_MORNING_ONLY_DAY,
    OPEN_CANDLE,
    RESENT_LIQUIDATION_DAY,
    SNAPSHOTS_PER_DAY,
    SYMBOLS,
    ZERO_FILL_DAY,
    Lake,
    all_days,
    land_bad_rows,
    make_settings,
)
from warehouse_scenarios import BuiltWarehouse, Rows, query, take_snapshot

from include.cryptodw.dbt_runner import (
    DOWNSTREAM_SELECTOR,
    STAGING_SELECTOR,
    DbtBuildError,
    run_dbt,
)
from include.cryptodw.windows import Window

pytestmark = pytest.mark.slow

EXCHANGE = "binance"
ASSETS = sorted(base for base, _, _ in SYMBOLS.values())
REL = 1e-9

LIQUIDATION_SUMS = (
    "long_liquidations_usd",
    "short_liquidations_usd",
    "total_liquidations_usd",
    "long_liquidations_coin",
    "short_liquidations_coin",
)
LIQUIDATION_COUNTS = ("long_liquidation_count", "short_liquidation_count", "liquidation_count")


# --------------------------------------------------------------------------- expectations


def base_asset(symbol: str) -> str:
    return SYMBOLS[symbol][0]


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_length(start: date) -> int:
    following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (following - start).days


def percent_change(current: float, previous: float | None) -> float | None:
    return None if previous in (None, 0) else (current / previous - 1) * 100


def counted_liquidations(lake: Lake) -> list[dict]:
    """Each liquidation event once (a re-send is the same event), filled ones only."""
    unique = {
        (r["symbol"], r["trade_time"], r["order_side"], r["filled_qty"], r["avg_price"]): r
        for r in lake.liquidations
    }
    return [r for r in unique.values() if r["filled_qty"] > 0]


def expected_liquidations_daily(lake: Lake, days: list[date]) -> dict[tuple, dict]:
    """(day, asset) -> measures, for every captured day x asset (zeros when none)."""
    daily = {
        (day, asset): {
            **dict.fromkeys(LIQUIDATION_SUMS, 0.0),
            **dict.fromkeys(LIQUIDATION_COUNTS, 0),
            "largest_liquidation_usd": 0.0,
        }
        for day in days
        for asset in ASSETS
    }
    for r in counted_liquidations(lake):
        day = r["trade_time"].date()
        if day not in days:
            continue
        row = daily[(day, base_asset(r["symbol"]))]
        side = "long" if r["order_side"] == "SELL" else "short"
        notional = r["filled_qty"] * r["avg_price"]
        row[f"{side}_liquidations_usd"] += notional
        row[f"{side}_liquidations_coin"] += r["filled_qty"]
        row[f"{side}_liquidation_count"] += 1
        row["total_liquidations_usd"] += notional
        row["liquidation_count"] += 1
        row["largest_liquidation_usd"] = max(row["largest_liquidation_usd"], notional)
    return daily


def roll_up_liquidations(daily: dict[tuple, dict], period_start) -> dict[tuple, dict]:
    periods: dict[tuple, dict] = {}
    for (day, asset), measures in sorted(daily.items()):
        empty = {column: 0 for column in measures} | {"days_with_data": 0}
        row = periods.setdefault((period_start(day), asset), empty)
        for column in (*LIQUIDATION_SUMS, *LIQUIDATION_COUNTS):
            row[column] += measures[column]
        largest = measures["largest_liquidation_usd"]
        row["largest_liquidation_usd"] = max(row["largest_liquidation_usd"], largest)
        row["days_with_data"] += 1
    return periods


def open_interest_snapshots(lake: Lake) -> dict[tuple, dict[object, tuple[float, float]]]:
    """(day, asset) -> {snapshot time: (coin, usd)}; a snapshot sent twice counts once."""
    days: dict[tuple, dict] = defaultdict(dict)
    for r in lake.open_interest:
        key = (r["snapshot_at"].date(), base_asset(r["symbol"]))
        days[key][r["snapshot_at"]] = (r["open_interest_base"], r["open_interest_quote"])
    return days


def expected_open_interest_daily(lake: Lake) -> dict[tuple, dict]:
    daily = {}
    for (day, asset), snapshots in sorted(open_interest_snapshots(lake).items()):
        ordered = [snapshots[at] for at in sorted(snapshots)]
        row = {"snapshot_count": len(ordered)}
        for index, unit in enumerate(("coin", "usd")):
            values = [v[index] for v in ordered]
            row |= {
                f"open_interest_{unit}_close": values[-1],
                f"open_interest_{unit}_avg": fmean(values),
                f"open_interest_{unit}_min": min(values),
                f"open_interest_{unit}_max": max(values),
            }
        previous = daily.get((day - timedelta(days=1), asset))
        for unit in ("coin", "usd"):
            close = f"open_interest_{unit}_close"
            row[f"open_interest_{unit}_change_pct"] = percent_change(
                row[close], previous and previous[close]
            )
        daily[(day, asset)] = row
    return daily


def roll_up_open_interest(
    daily: dict[tuple, dict], period_start, previous_start
) -> dict[tuple, dict]:
    grouped: dict[tuple, list[dict]] = defaultdict(list)
    for (day, asset), row in sorted(daily.items()):
        grouped[(period_start(day), asset)].append(row)
    periods = {}
    for (start, asset), rows in sorted(grouped.items()):
        period = {
            "days_with_data": len(rows),
            "snapshot_count": sum(r["snapshot_count"] for r in rows),
        }
        for unit in ("coin", "usd"):
            period |= {
                f"open_interest_{unit}_close": rows[-1][f"open_interest_{unit}_close"],
                f"open_interest_{unit}_avg": fmean(r[f"open_interest_{unit}_avg"] for r in rows),
                f"open_interest_{unit}_min": min(r[f"open_interest_{unit}_min"] for r in rows),
                f"open_interest_{unit}_max": max(r[f"open_interest_{unit}_max"] for r in rows),
            }
        previous = periods.get((previous_start(start), asset))
        for unit in ("coin", "usd"):
            close = f"open_interest_{unit}_close"
            period[f"open_interest_{unit}_change_pct"] = percent_change(
                period[close], previous and previous[close]
            )
        periods[(start, asset)] = period
    return periods


def expected_prices_daily(lake: Lake) -> dict[tuple, dict]:
    open_symbol, open_day, _ = OPEN_CANDLE
    daily = {}
    for r in sorted(lake.klines, key=lambda r: r["open_time"]):
        day = r["open_time"].date()
        if r["interval"] != "1d" or (r["symbol"], day) == (open_symbol, open_day):
            continue
        previous = daily.get((day - timedelta(days=1), base_asset(r["symbol"])))
        daily[(day, base_asset(r["symbol"]))] = {
            "open_usd": r["open_price"],
            "high_usd": r["high_price"],
            "low_usd": r["low_price"],
            "close_usd": r["close_price"],
            "volume_coin": r["volume_base"],
            "volume_usd": r["volume_quote"],
            "change_pct": percent_change(r["close_price"], previous and previous["close_usd"]),
        }
    return daily


def by_key(rows: Rows, date_column: str) -> dict[tuple, dict]:
    keyed = {(r[date_column], r["base_asset"]): r for r in rows}
    assert len(keyed) == len(rows), "duplicate grain rows"
    assert {r["exchange_id"] for r in rows} == {EXCHANGE}
    return keyed


def assert_measures(actual: dict[tuple, dict], expected: dict[tuple, dict]) -> None:
    assert sorted(actual) == sorted(expected)
    for key, measures in expected.items():
        for column, value in measures.items():
            got = actual[key][column]
            if value is None or isinstance(value, int):
                assert got == value, (key, column)
            else:
                assert got == pytest.approx(value, rel=REL), (key, column)


# --------------------------------------------------------------------------- liquidations


def test_liquidations_daily_match_the_feed_with_zeros_on_quiet_days(built: BuiltWarehouse):
    actual = by_key(built.february.marts["liquidations_daily"], "liquidation_date")
    expected = expected_liquidations_daily(built.lake, all_days())
    assert_measures(actual, expected)
    assert (
        min(
            sum(row[f"{side}_liquidations_usd"] for row in expected.values())
            for side in ("long", "short")
        )
        > 0
    )
    assert all(row["is_sampled_feed"] for row in actual.values())
    quiet = [actual[(NO_LIQUIDATION_DAY, asset)] for asset in ASSETS]
    assert all(
        row["liquidation_count"] == 0 and row["total_liquidations_usd"] == 0 for row in quiet
    )


def test_a_resent_event_counts_once_and_a_zero_fill_not_at_all(built: BuiltWarehouse):
    actual = by_key(built.february.marts["liquidations_daily"], "liquidation_date")
    raw = defaultdict(int)
    for r in built.lake.liquidations:
        raw[r["trade_time"].date()] += 1
    for day in (RESENT_LIQUIDATION_DAY, ZERO_FILL_DAY):
        assert sum(actual[(day, asset)]["liquidation_count"] for asset in ASSETS) == raw[day] - 1


@pytest.mark.parametrize(
    ("mart", "date_column", "period_start", "period_length"),
    [
        ("liquidations_weekly", "week_start_date", week_start, lambda start: 7),
        ("liquidations_monthly", "month_start_date", month_start, month_length),
    ],
)
def test_liquidation_rollups_are_sums_of_days(
    built, mart, date_column, period_start, period_length
):
    daily = expected_liquidations_daily(built.lake, all_days())
    expected = roll_up_liquidations(daily, period_start)
    actual = by_key(built.february.marts[mart], date_column)
    assert_measures(actual, expected)
    for (start, _), row in actual.items():
        assert row["days_in_period"] == period_length(start)
        assert row["is_complete_period"] == (row["days_with_data"] == row["days_in_period"])


def test_only_whole_periods_are_complete(built: BuiltWarehouse):
    weekly = by_key(built.february.marts["liquidations_weekly"], "week_start_date")
    complete = sorted({start for (start, _), row in weekly.items() if row["is_complete_period"]})
    assert complete == [date(2024, 1, 1) + timedelta(weeks=i) for i in range(5)]
    assert weekly[(date(2024, 2, 5), "BTC")]["days_with_data"] == 5
    monthly = by_key(built.february.marts["liquidations_monthly"], "month_start_date")
    assert monthly[(date(2024, 1, 1), "BTC")]["is_complete_period"] is True
    assert monthly[(date(2024, 2, 1), "BTC")]["days_with_data"] == 9
    assert monthly[(date(2024, 2, 1), "BTC")]["is_complete_period"] is False


# --------------------------------------------------------------------------- open interest


def test_open_interest_daily_closes_on_the_last_snapshot(built: BuiltWarehouse):
    actual = by_key(built.february.marts["open_interest_daily"], "snapshot_date")
    assert_measures(actual, expected_open_interest_daily(built.lake))
    symbol, day = OI_MORNING_ONLY_DAY
    morning = actual[(day, base_asset(symbol))]
    day_rows = [
        r
        for r in built.lake.open_interest
        if (r["symbol"], r["snapshot_at"].date()) == (symbol, day)
    ]
    last = max(day_rows, key=lambda r: r["snapshot_at"])
    assert morning["snapshot_count"] == SNAPSHOTS_PER_DAY // 2
    assert morning["open_interest_coin_close"] == last["open_interest_base"]


def test_a_duplicated_snapshot_counts_once(built: BuiltWarehouse):
    actual = by_key(built.february.marts["open_interest_daily"], "snapshot_date")
    symbol, at = OI_DUPLICATED_SNAPSHOT
    assert actual[(at.date(), base_asset(symbol))]["snapshot_count"] == SNAPSHOTS_PER_DAY


def test_open_interest_change_needs_the_previous_day(built: BuiltWarehouse):
    actual = by_key(built.february.marts["open_interest_daily"], "snapshot_date")
    symbol, missing = OI_MISSING_DAY
    asset = base_asset(symbol)
    assert (missing, asset) not in actual
    assert actual[(missing + timedelta(days=1), asset)]["open_interest_usd_change_pct"] is None
    assert actual[(date(2024, 1, 1), asset)]["open_interest_coin_change_pct"] is None
    feb1, jan31 = actual[(date(2024, 2, 1), "BTC")], actual[(date(2024, 1, 31), "BTC")]
    expected = (feb1["open_interest_usd_close"] / jan31["open_interest_usd_close"] - 1) * 100
    assert feb1["open_interest_usd_change_pct"] == pytest.approx(expected, rel=REL)


@pytest.mark.parametrize(
    ("mart", "date_column", "period_start", "previous_start"),
    [
        ("open_interest_weekly", "week_start_date", week_start, lambda s: s - timedelta(days=7)),
        (
            "open_interest_monthly",
            "month_start_date",
            month_start,
            lambda s: month_start(s - timedelta(days=1)),
        ),
    ],
)
def test_open_interest_rollups_close_on_the_last_day(
    built, mart, date_column, period_start, previous_start
):
    daily = expected_open_interest_daily(built.lake)
    expected = roll_up_open_interest(daily, period_start, previous_start)
    actual = by_key(built.february.marts[mart], date_column)
    assert_measures(actual, expected)


def test_a_day_without_open_interest_makes_its_week_partial(built: BuiltWarehouse):
    weekly = by_key(built.february.marts["open_interest_weekly"], "week_start_date")
    symbol, missing = OI_MISSING_DAY
    gap_week = weekly[(week_start(missing), base_asset(symbol))]
    assert (gap_week["days_with_data"], gap_week["is_complete_period"]) == (6, False)
    assert weekly[(week_start(missing), "BTC")]["is_complete_period"] is True


# --------------------------------------------------------------------------- prices


def test_prices_daily_from_closed_daily_candles(built: BuiltWarehouse):
    actual = by_key(built.february.marts["prices_daily"], "price_date")
    assert_measures(actual, expected_prices_daily(built.lake))
    symbol, day, _ = OPEN_CANDLE
    assert (day, base_asset(symbol)) not in actual


# --------------------------------------------------------------------------- windows and re-runs


def test_first_window_holds_january_only(built: BuiltWarehouse):
    daily = by_key(built.january.marts["liquidations_daily"], "liquidation_date")
    january_days = [d for d in all_days() if d < JANUARY.end]
    assert_measures(daily, expected_liquidations_daily(built.lake, january_days))
    weekly = by_key(built.january.marts["liquidations_weekly"], "week_start_date")
    assert weekly[(date(2024, 1, 29), "ETH")]["days_with_data"] == 3


def test_second_window_is_appended(built: BuiltWarehouse):
    for fact, (rows, keys) in built.february.fact_rows.items():
        assert rows == keys, f"{fact} has duplicate keys"
        assert rows > built.january.fact_rows[fact][0], f"{fact} did not grow"
    weekly = by_key(built.february.marts["liquidations_weekly"], "week_start_date")
    assert weekly[(date(2024, 1, 29), "ETH")]["days_with_data"] == 7
    assert max(
        r["price_date"] for r in built.february.marts["prices_daily"]
    ) == FEBRUARY.end - timedelta(days=1)


@pytest.mark.parametrize("scenario", ["february_again", "empty_window"])
def test_rerun_and_empty_window_change_nothing(built: BuiltWarehouse, scenario: str):
    after = getattr(built, scenario)
    assert after.fact_rows == built.february.fact_rows
    for mart, rows in built.february.marts.items():
        assert after.marts[mart] == rows, mart


# The incremental tables and the date their windows are deleted and read by.
INCREMENTAL_DATES = {
    "core.fct_liquidations": "liquidation_date",
    "core.fct_open_interest_snapshots": "snapshot_date",
    "core.fct_funding_rates": "funding_date",
    "core.fct_price_candles": "candle_date",
    "core.fct_dataset_captures": "capture_date",
    "core.fct_instrument_days": "seen_date",
    "intermediate.int_liquidations__five_minute_buckets": "bucket_date",
    "marts.liquidations_daily": "liquidation_date",
    "marts.liquidations_hourly": "liquidation_date",
    "marts.open_interest_daily": "snapshot_date",
}


@pytest.mark.parametrize(("relation", "date_column"), sorted(INCREMENTAL_DATES.items()))
def test_incremental_tables_are_stored_in_date_order(
    built: BuiltWarehouse, relation: str, date_column: str
):
    """Written in date order, a table lets a window's delete and reads skip every other day's
    row groups (window.sql). The windows were built in calendar order, so the whole table is
    in order; a plain scan returns rows as stored."""
    rows = query(built.settings.warehouse_path, f"select {date_column} from {relation}")
    dates = [row[date_column] for row in rows]
    assert len(set(dates)) > 1
    assert dates == sorted(dates)


# --------------------------------------------------------------------------- bad rows


def test_bad_rows_stop_the_staging_build(bad_lake_settings, lake: Lake):
    land_bad_rows(bad_lake_settings, lake)
    with pytest.raises(DbtBuildError) as failure:
        run_dbt(bad_lake_settings, "build", STAGING_SELECTOR, BAD_DAY)
    message = str(failure.value)
    assert "stg_binance__liquidations_liquidated_qty_coin" in message
    assert "assert_open_interest_duplicates_agree" in message
    assert message.count(": fail:") == 2, message
    # dbt released the warehouse file although the build failed (profiles.yml keep_open: false)
    assert query(bad_lake_settings.warehouse_path, "select 1 as ok") == [{"ok": 1}]


# --------------------------------------------------------------------------- windowed tests

BROKEN_DAY = date(2024, 2, 5)  # inside FEBRUARY, the last window the warehouse was built for
# every generic test of the two big facts, and the open-interest close check
WINDOWED_TESTS = (
    "assert_open_interest_close_is_last_snapshot fct_liquidations,test_type:generic "
    "fct_open_interest_snapshots,test_type:generic"
)


def break_one_day(settings, day: date) -> None:
    """Corrupt `day` in the warehouse as a faulty write would: a liquidation stored twice, the
    second time with an exchange and a side no one knows, an open-interest snapshot stored
    twice, and a daily close that is not the last snapshot's."""
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute(
            "insert into core.fct_liquidations select * replace ('nowhere' as exchange_id, "
            "'sideways' as position_side) from core.fct_liquidations "
            "where liquidation_date = ? order by all limit 1",
            [day],
        )
        con.execute(
            "insert into core.fct_open_interest_snapshots select * "
            "from core.fct_open_interest_snapshots where snapshot_date = ? order by all limit 1",
            [day],
        )
        con.execute(
            "update marts.open_interest_daily set open_interest_usd_close = "
            "open_interest_usd_close + 1 where snapshot_date = ?",
            [day],
        )


def test_windowed_tests_catch_a_broken_day_the_run_wrote(built: BuiltWarehouse, tmp_path):
    """The tests of the incremental tables read only the days from the window on (a one-day
    refresh must not re-read the history; window.sql's get_where_subquery): a run whose window
    holds the broken day fails on each broken rule; a later window no longer re-checks it."""
    settings = make_settings(tmp_path / "data")
    shutil.copytree(built.settings.data_dir, settings.data_dir, symlinks=True)
    break_one_day(settings, BROKEN_DAY)

    with pytest.raises(DbtBuildError) as failure:
        run_dbt(
            settings,
            "test",
            window=Window(BROKEN_DAY, BROKEN_DAY + timedelta(days=1)),
            extra_args=["--select", WINDOWED_TESTS],
        )
    message = str(failure.value)
    for test in (
        "assert_open_interest_close_is_last_snapshot",
        "unique_fct_liquidations_liquidation_id",
        "relationships_fct_liquidations_exchange_id",
        "accepted_values_fct_liquidations_position_side",
        "unique_fct_open_interest_snapshots_open_interest_snapshot_id",
        "unique_combination_of_columns_fct_open_interest_snapshots",
    ):
        assert test in message, message
    assert message.count(": fail:") == 6, message

    later = Window(BROKEN_DAY + timedelta(days=1), FEBRUARY.end)
    run_dbt(settings, "test", window=later, extra_args=["--select", WINDOWED_TESTS])


def test_every_test_of_an_incremental_table_reads_the_window(built: BuiltWarehouse, tmp_path):
    """No generic test of an incremental table reads its whole history on a refresh: each
    one's SQL filters the table on its day column from the window start (the staging tables'
    through dbt_project.yml's `where`, the others' through `meta.tested_from_day`)."""
    settings = make_settings(tmp_path / "data")
    shutil.copytree(built.settings.data_dir, settings.data_dir, symlinks=True)
    target = tmp_path / "target"
    run_dbt(settings, "compile", None, FEBRUARY, ["--select", "test_type:generic"], target)

    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    incremental = {
        uid for uid, node in nodes.items() if node["config"]["materialized"] == "incremental"
    }
    tests = [
        node
        for node in nodes.values()
        if node["resource_type"] == "test" and node.get("attached_node") in incremental
    ]
    assert len(tests) > 150
    window_start = re.compile(rf"_date >= (date '|cast\('){FEBRUARY.start}")
    assert [node["name"] for node in tests if not window_start.search(node["compiled_code"])] == []


def test_an_asset_gone_from_the_instruments_rebuilds_the_hourly_liquidations_whole(
    built: BuiltWarehouse, tmp_path
):
    """An hourly row of a base asset no instrument has (what a delisting or a renamed asset
    leaves behind) makes the next refresh rebuild liquidations_hourly from every day, not
    only its window: the stray row in January goes, January's rows come back complete."""
    settings = make_settings(tmp_path / "data")
    shutil.copytree(built.settings.data_dir, settings.data_dir, symlinks=True)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute(
            "insert into marts.liquidations_hourly "
            "select * replace ('ZZZ' as base_asset) from marts.liquidations_hourly "
            "where liquidation_date = ? order by all limit 1",
            [JANUARY.start],
        )
    run_dbt(settings, "build", DOWNSTREAM_SELECTOR, FEBRUARY)
    after = take_snapshot(settings)
    assert after.marts == built.february.marts
    assert not query(
        settings.warehouse_path,
        "select * from marts.liquidations_hourly where base_asset = 'ZZZ'",
    )
