"""Collector coverage gaps reach the liquidation marts: an uncaptured hour is NULL, never zero.

The handcrafted lake (copied from the `built` fixture) gets the coverage record a collector
would write, through the collector's own writer (`collector.coverage.Coverage`), landed through
the real landing path (raw suite, lake writer); the liquidation day file of Jan 15 is removed
(a day never landed). One dbt build of the whole project, tests included, then every figure
checked here is computed in Python from the records and the gap times, never with the SQL:

- Dec 31 23:00 the collector's first start, subscribed 5 s later (before the lake's days);
- Jan 10 14:00-17:30 a dropped connection: hours 14-16 uncovered, hour 17 half;
- Jan 24 22:00 a shutdown, a new process subscribed again Jan 26 00:30: Jan 25 (no
  liquidations landed) is entirely uncovered;
- Feb 9 20:00 a shutdown never followed by a restart: the gap is still open when landed.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from handcrafted_lake import (
    FEBRUARY,
    FIRST_DAY,
    JANUARY,
    LAST_DAY,
    SYMBOLS,
    all_days,
    make_settings,
)
from warehouse_scenarios import BuiltWarehouse, Rows, query

from include.cryptodw.assets import COLLECTOR_COVERAGE_GAPS
from include.cryptodw.collector.coverage import Coverage
from include.cryptodw.dbt_runner import run_dbt
from include.cryptodw.pipeline import land_slice
from include.cryptodw.settings import Settings
from include.cryptodw.sources.binance import FORCE_ORDER_STREAM
from include.cryptodw.windows import Window

pytestmark = pytest.mark.slow

DAY_S = 86_400
REL = 1e-9
ASSETS = sorted(base for base, _, _ in SYMBOLS.values())
NOT_LANDED = date(2024, 1, 15)
UNCOVERED_DAY = date(2024, 1, 25)


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second)


# (start, end) of every recorded gap inside the lake's days; the last one is still open
GAPS = [
    (at(date(2024, 1, 10), 14), at(date(2024, 1, 10), 17, 30)),
    (at(date(2024, 1, 24), 22), at(date(2024, 1, 26), 0, 30)),
    (at(date(2024, 2, 9), 20), at(LAST_DAY + timedelta(days=1), 0)),
]


def ms(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp() * 1000)


def record_collector_gaps(settings: Settings) -> None:
    """The coverage record of the scenario above, written by the collector's own writer."""
    first = Coverage(settings.replay_dir, "binance", FORCE_ORDER_STREAM, "host:1:1")
    first.resume(ms(at(date(2023, 12, 31), 23)))
    first.close_gap(ms(at(date(2023, 12, 31), 23, 0, 5)))
    (dropped_from, dropped_until), (shutdown_at, restarted_at), (stopped_at, _) = GAPS
    first.open_gap(ms(dropped_from), "connection_lost", "no close frame (1006)")
    first.close_gap(ms(dropped_until))
    first.open_gap(ms(shutdown_at), "shutdown", "collector stopped")
    second = Coverage(settings.replay_dir, "binance", FORCE_ORDER_STREAM, "host:2:2")
    second.resume(ms(restarted_at - timedelta(minutes=10)))  # continues the shutdown gap
    second.close_gap(ms(restarted_at))
    second.open_gap(ms(stopped_at), "shutdown", "collector stopped")


@pytest.fixture(scope="module")
def covered(tmp_path_factory: pytest.TempPathFactory, built: BuiltWarehouse) -> Settings:
    settings = make_settings(tmp_path_factory.mktemp("dbt-coverage") / "data")
    shutil.copytree(built.settings.lake_dir, settings.lake_dir)
    for directory, name in ((settings.raw_dir, "all.parquet"), (settings.manifest_dir, "all.json")):
        (directory / "binance" / "liquidations" / f"dt={NOT_LANDED}" / name).unlink()
    record_collector_gaps(settings)
    for window in (JANUARY, FEBRUARY):
        land_slice(settings, COLLECTOR_COVERAGE_GAPS, window, venue="binance")
    run_dbt(settings, "build", None, Window(FIRST_DAY, LAST_DAY + timedelta(days=1)))
    return settings


def mart(settings: Settings, name: str, key: str) -> dict[tuple, dict]:
    rows: Rows = query(settings.warehouse_path, f"select * from marts.{name}")
    keyed = {(row[key], row["base_asset"]): row for row in rows}
    assert len(keyed) == len(rows) and {row["exchange_id"] for row in rows} == {"binance"}
    return keyed


# ------------------------------------------------------------------------ expectations


def uncovered_seconds(start: datetime, end: datetime) -> float:
    """Seconds of [start, end) inside a recorded gap."""
    return sum(
        max((min(end, gap_end) - max(start, gap_start)).total_seconds(), 0.0)
        for gap_start, gap_end in GAPS
    )


def landed_days() -> list[date]:
    return [day for day in all_days() if day != NOT_LANDED]


def captured_seconds(day: date) -> float:
    if day not in landed_days():
        return 0.0
    return DAY_S - uncovered_seconds(at(day, 0), at(day, 0) + timedelta(days=1))


def liquidations_usd(lake) -> dict[tuple, float]:
    """(day, asset, side) -> USD of the landed feed: each event once, filled ones only."""
    unique = {
        (r["symbol"], r["trade_time"], r["order_side"], r["filled_qty"], r["avg_price"]): r
        for r in lake.liquidations
    }
    totals: dict[tuple, float] = defaultdict(float)
    for r in unique.values():
        if r["filled_qty"] > 0 and r["trade_time"].date() in landed_days():
            side = "long" if r["order_side"] == "SELL" else "short"
            key = (r["trade_time"].date(), SYMBOLS[r["symbol"]][0], side)
            totals[key] += r["filled_qty"] * r["avg_price"]
    return totals


# ---------------------------------------------------------------------------------- tests


def test_an_hour_inside_a_gap_is_null_not_zero(covered):
    hourly = mart(covered, "liquidations_hourly", "hour_start_at")
    day = date(2024, 1, 10)
    for asset in ASSETS:
        for hour in (14, 15, 16):
            row = hourly[at(day, hour), asset]
            assert row["captured_seconds"] == 0 and row["capture_coverage_pct"] == 0
            assert row["has_capture_gap"] is True
            assert row["total_liquidations_usd"] is None and row["liquidation_count"] is None
        half = hourly[at(day, 17), asset]
        assert (half["captured_seconds"], half["capture_coverage_pct"]) == (1800, 50)
        assert (half["total_liquidations_usd"], half["liquidation_count"]) == (0, 0)
        assert hourly[at(day, 13), asset]["has_capture_gap"] is False
    open_gap = hourly[at(LAST_DAY, 23), "BTC"]
    assert open_gap["captured_seconds"] == 0 and open_gap["total_liquidations_usd"] is None
    assert not any(key[0].date() == NOT_LANDED for key in hourly)


def test_daily_coverage_drops_with_the_gaps_and_an_uncaptured_day_is_null(covered, lake):
    daily = mart(covered, "liquidations_daily", "liquidation_date")
    usd = liquidations_usd(lake)
    assert sorted({day for day, _ in daily}) == landed_days()
    for (day, asset), row in daily.items():
        assert row["captured_seconds"] == pytest.approx(captured_seconds(day), rel=REL)
        assert row["capture_coverage_pct"] == pytest.approx(captured_seconds(day) / 864, rel=REL)
        assert row["has_capture_gap"] is (captured_seconds(day) < DAY_S)
        if day == UNCOVERED_DAY:
            assert row["total_liquidations_usd"] is None and row["liquidation_count"] is None
            continue
        for side in ("long", "short"):
            want = usd.get((day, asset, side), 0.0)
            assert row[f"{side}_liquidations_usd"] == pytest.approx(want, rel=REL, abs=1e-9)
    assert daily[date(2024, 1, 10), "BTC"]["capture_coverage_pct"] == pytest.approx(
        (DAY_S - 3.5 * 3600) / 864
    )
    assert [daily[UNCOVERED_DAY + timedelta(days=d), "ETH"]["captured_seconds"]
            for d in (-1, 0, 1)] == [DAY_S - 7200, 0, DAY_S - 1800]  # fmt: skip


def test_trailing_sums_run_over_calendar_days(covered, lake):
    """7d / 30d sums and coverage over calendar days: Jan 15 (not landed) and Jan 25 (not
    captured) add nothing and never stretch a window further back."""
    daily = mart(covered, "liquidations_daily", "liquidation_date")
    usd = liquidations_usd(lake)
    for (day, asset), row in daily.items():
        assert row["long_liquidations_24h_usd"] == row["long_liquidations_usd"]
        for horizon, days in (("7d", 7), ("30d", 30)):
            window = [day - timedelta(days=back) for back in range(days)]
            for side in ("long", "short"):
                want = sum(usd.get((d, asset, side), 0.0) for d in window)
                got = row[f"{side}_liquidations_{horizon}_usd"]
                assert got == pytest.approx(want, rel=REL, abs=1e-9), (day, asset, side, horizon)
            coverage = sum(map(captured_seconds, window)) / (days * 864)
            assert row[f"capture_coverage_{horizon}_pct"] == pytest.approx(coverage, rel=REL)
    assert daily[date(2024, 1, 18), "BTC"]["capture_coverage_7d_pct"] == pytest.approx(600 / 7)


def test_weeks_and_months_carry_the_coverage_of_their_days(covered):
    weekly = mart(covered, "liquidations_weekly", "week_start_date")
    gap_week = weekly[date(2024, 1, 22), "SOL"]
    captured = 7 * DAY_S - (2 + 24 + 0.5) * 3600
    assert gap_week["captured_seconds"] == pytest.approx(captured)
    assert gap_week["capture_coverage_pct"] == pytest.approx(captured / (7 * 864))
    assert gap_week["has_capture_gap"] is True and gap_week["days_with_data"] == 7
    assert weekly[date(2024, 1, 1), "SOL"]["has_capture_gap"] is False
    monthly = mart(covered, "liquidations_monthly", "month_start_date")
    january = monthly[date(2024, 1, 1), "BTC"]
    assert january["days_with_data"] == 30
    assert january["capture_coverage_pct"] == pytest.approx((30 * DAY_S - 30 * 3600) / (31 * 864))
    daily = mart(covered, "liquidations_daily", "liquidation_date")
    for (start, asset), row in monthly.items():
        days = [r for (d, a), r in daily.items() if a == asset and d.replace(day=1) == start]
        total = sum(r["total_liquidations_usd"] or 0.0 for r in days)
        assert row["total_liquidations_usd"] == pytest.approx(total, rel=REL)
