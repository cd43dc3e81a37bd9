"""Market-stress analytics marts over simulated markets, checked against Python.

Two warehouses, one build each: the `crash` preset (Jan 1 .. Feb 5 2026, BTC from ~87k to
~66k) and the `calm` preset (shorter, liquidations only: it is there to count false cascades).
Every expected figure is computed here from the warehouse's base marts (prices_daily,
liquidations_daily, open_interest_daily), the core facts or the simulator's ground truth, with
this file's own reading of each documented rule, never with the analytics SQL.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from warehouse_scenarios import Rows, query

from include.cryptodw.assets import DEFAULT_SYMBOLS
from include.cryptodw.dbt_runner import run_dbt
from include.cryptodw.offline import prepare_offline_exchange, truth_dir
from include.cryptodw.pipeline import land_window
from include.cryptodw.settings import DBT_PROJECT_DIR, Settings
from include.cryptodw.windows import Window

pytestmark = pytest.mark.slow

CRASH_WINDOW = Window(date(2026, 1, 1), date(2026, 2, 6))
CALM_WINDOW = Window(date(2026, 1, 1), date(2026, 1, 22))
TRACKED = ("BTC", "ETH", "BNB", "SOL", "XRP")
REL = 1e-9
TREASURY_SEED = DBT_PROJECT_DIR / "seeds" / "treasury" / "treasury_btc_filings.csv"
# Stated rate on the calm preset: at most one cascade per asset per 3 days. (Measured: 30 in 105
# asset-days with seed 7, 26 of them BTC's. The calibrated calm market (docs/calibration.md) has
# real trickles and bursts of forced orders: on BTC, the largest book, a quick new intraday
# extreme liquidates a few $M within 5 minutes, a real if small cascade by this definition.)
CALM_CASCADES_PER_ASSET_DAY = 0.35


def simulated_settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir, source_mode="simulated", symbols=DEFAULT_SYMBOLS, venues=("binance",)
    )


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = simulated_settings(tmp_path_factory.mktemp("analytics-crash") / "data")
    prepare_offline_exchange(settings, "crash", CRASH_WINDOW)
    land_window(settings, CRASH_WINDOW)
    run_dbt(settings, "build")
    return settings


@pytest.fixture(scope="module")
def calm(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A calm market; only liquidations are landed and only the cascades (and the daily mart
    that counts the captured asset days) built from them."""
    settings = simulated_settings(tmp_path_factory.mktemp("analytics-calm") / "data")
    prepare_offline_exchange(settings, "calm", CALM_WINDOW)
    land_window(settings, CALM_WINDOW, dataset="liquidations")
    run_dbt(
        settings,
        "build",
        extra_args=["--select", "+liquidation_cascades +liquidations_daily"]
        + ["--indirect-selection", "cautious"],
    )
    return settings


def read(settings: Settings, sql: str) -> Rows:
    return query(settings.warehouse_path, sql)


def close_to(actual: float | None, expected: float | None) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    return math.isclose(actual, expected, rel_tol=REL, abs_tol=1e-6)


def percent_change(current: float | None, previous: float | None) -> float | None:
    return None if current is None or previous in (None, 0) else (current / previous - 1) * 100


# --------------------------------------------------------------------------- expectations


def reference_closes(settings: Settings) -> dict[str, dict[date, dict]]:
    """asset -> day -> candle of the venue with the largest USD volume (one venue here)."""
    best: dict[tuple[str, date], dict] = {}
    for row in read(settings, "select * from marts.prices_daily"):
        key = (row["base_asset"], row["price_date"])
        rank = (-row["volume_usd"], row["exchange_id"])
        if key not in best or rank < (-best[key]["volume_usd"], best[key]["exchange_id"]):
            best[key] = row
    by_asset: dict[str, dict[date, dict]] = defaultdict(dict)
    for (asset, day), row in best.items():
        by_asset[asset][day] = row
    return by_asset


def daily_changes(closes: dict[date, dict]) -> dict[date, float | None]:
    return {
        day: percent_change(
            row["close_usd"], closes.get(day - timedelta(days=1), {}).get("close_usd")
        )
        for day, row in closes.items()
    }


def trailing_sum(series: dict[date, float], day: date, days: int) -> float:
    return sum(series.get(day - timedelta(days=offset), 0.0) for offset in range(days))


def first_close_below(closes: dict[date, dict], level: float) -> date | None:
    """First day closing below `level` after a close at or above it."""
    seen_above = False
    for day in sorted(closes):
        close = closes[day]["close_usd"]
        if close >= level:
            seen_above = True
        elif seen_above:
            return day
    return None


def stress_rows(settings: Settings) -> dict[date, dict]:
    return {
        row["stress_date"]: row
        for row in read(settings, "select * from marts.market_stress_daily order by stress_date")
    }


# --------------------------------------------------------------------------- market stress


def test_prices_and_breadth_match_the_daily_closes(crash):
    closes = reference_closes(crash)
    changes = {asset: daily_changes(closes[asset]) for asset in TRACKED}
    rows = stress_rows(crash)
    assert sorted(rows) == sorted(closes["BTC"])
    for day, row in rows.items():
        moves = {asset: changes[asset].get(day) for asset in TRACKED}
        tracked = [move for move in moves.values() if move is not None]
        down = sum(move < 0 for move in tracked)
        for asset in TRACKED:
            assert close_to(row[f"{asset.lower()}_close_usd"], closes[asset][day]["close_usd"])
            assert close_to(row[f"{asset.lower()}_change_pct"], moves[asset])
        assert (row["assets_tracked"], row["assets_down"]) == (len(tracked), down)
        if not tracked:
            expected = None
        elif down >= 0.8 * len(tracked) and moves["BTC"] < 0:
            expected = "systemic"
        elif min(tracked) <= -3:
            expected = "localized"
        else:
            expected = "calm"
        assert row["breadth_label"] == expected, day
    last = rows[max(rows)]
    assert (last["assets_tracked"], last["assets_down"], last["breadth_label"]) == (
        5,
        5,
        "systemic",
    )


def test_rolling_liquidations_sum_the_trailing_days(crash):
    series: dict[tuple[str, str], dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for row in read(crash, "select * from marts.liquidations_daily"):
        for side in ("long", "short"):
            amount = row[f"{side}_liquidations_usd"]
            series[("", side)][row["liquidation_date"]] += amount
            if row["base_asset"] == "BTC":
                series[("btc_", side)][row["liquidation_date"]] += amount
    for day, row in stress_rows(crash).items():
        assert row["venues_reporting"] == 1
        for (scope, side), by_day in series.items():
            for days, label in ((1, "24h"), (7, "7d"), (30, "30d")):
                column = f"{scope}{side}_liquidations_{label}_usd"
                assert math.isclose(
                    row[column], trailing_sum(by_day, day, days), rel_tol=1e-9, abs_tol=1e-6
                ), (day, column)


def test_open_interest_changes_and_deleveraging(crash):
    totals: dict[date, float] = defaultdict(float)
    for row in read(crash, "select * from marts.open_interest_daily"):
        totals[row["snapshot_date"]] += row["open_interest_usd_close"]
    rows = stress_rows(crash)
    for day, row in rows.items():
        day_before, month_before = day - timedelta(days=1), day - timedelta(days=30)
        assert close_to(row["open_interest_usd"], totals[day])
        assert close_to(
            row["open_interest_1d_change_pct"], percent_change(totals[day], totals.get(day_before))
        )
        change_30d = percent_change(totals[day], totals.get(month_before))
        assert close_to(row["open_interest_30d_change_pct"], change_30d)
        if change_30d is None:
            assert row["is_deleveraging"] is None
        else:
            fast_longs = row["long_liquidations_7d_usd"] > 7 * row["long_liquidations_30d_usd"] / 30
            assert row["is_deleveraging"] == (change_30d <= -15 and fast_longs), day
    last = rows[max(rows)]
    assert last["open_interest_30d_change_pct"] < -30
    assert last["is_deleveraging"] is True


# --------------------------------------------------------------------------- supports


def test_btc_round_supports_break_at_75k_then_70k(crash):
    closes = reference_closes(crash)["BTC"]
    latest_close = closes[max(closes)]["close_usd"]
    levels = {
        row["level_usd"]: row
        for row in read(
            crash,
            "select * from marts.support_levels "
            "where base_asset = 'BTC' and level_type = 'round_number'",
        )
    }
    assert {row["level_step_usd"] for row in levels.values()} == {5000.0}
    lowest_low = min(row["low_usd"] for row in closes.values())
    highest_close = max(row["close_usd"] for row in closes.values())
    expected_levels = {
        5000.0 * k for k in range(int(lowest_low // 5000), int(highest_close // 5000) + 1)
    }
    assert set(levels) == expected_levels
    for level, row in levels.items():
        assert row["first_broken_date"] == first_close_below(closes, level), level
    assert levels[75000.0]["first_broken_date"] == date(2026, 1, 30)
    assert levels[70000.0]["first_broken_date"] == date(2026, 2, 3)
    next_below = max(level for level in expected_levels if level < latest_close)
    assert [level for level, row in levels.items() if row["is_next_below"]] == [next_below]


def test_market_stress_walks_btc_down_the_support_ladder(crash):
    rows = stress_rows(crash)
    next_supports = [rows[day]["btc_next_support_usd"] for day in sorted(rows)]
    ladder = [
        level for i, level in enumerate(next_supports) if i == 0 or level != next_supports[i - 1]
    ]
    # The report's "support at $75K, then $70K": the last rungs, in order.
    assert ladder[-3:] == [75000.0, 70000.0, 65000.0]
    broken = {
        day: row["btc_broken_support_usd"]
        for day, row in rows.items()
        if row["btc_broken_support_usd"]
    }
    assert broken[date(2026, 1, 30)] == 75000.0
    assert broken[date(2026, 2, 3)] == 70000.0


def test_swing_lows_are_lows_of_their_seven_day_neighbourhood(crash):
    for asset, closes in reference_closes(crash).items():
        days = sorted(closes)
        expected = set()
        for i in range(3, len(days) - 3):
            low = closes[days[i]]["low_usd"]
            before = [closes[d]["low_usd"] for d in days[i - 3 : i]]
            after = [closes[d]["low_usd"] for d in days[i + 1 : i + 4]]
            if low < min(before) and low <= min(after):
                expected.add((days[i], low))
        swings = read(
            crash,
            "select established_date, level_usd from marts.support_levels "
            f"where base_asset = '{asset}' and level_type = 'swing_low'",
        )
        assert {(row["established_date"], row["level_usd"]) for row in swings} == expected


# --------------------------------------------------------------------------- contagion


def test_contagion_beta_and_correlation_follow_the_14_day_window(crash):
    closes = reference_closes(crash)
    btc = daily_changes(closes["BTC"])
    rows = read(crash, "select * from marts.contagion_daily")
    assert {row["base_asset"] for row in rows} == set(TRACKED) - {"BTC"}
    for row in rows:
        asset_changes = daily_changes(closes[row["base_asset"]])
        window = [row["price_date"] - timedelta(days=offset) for offset in range(14)]
        pairs = [
            (btc[day], asset_changes[day])
            for day in window
            if btc.get(day) is not None and asset_changes.get(day) is not None
        ]
        assert row["paired_days_14d"] == len(pairs)
        if len(pairs) < 10:
            assert row["btc_beta_14d"] is None and row["btc_correlation_14d"] is None
            continue
        xs, ys = zip(*pairs, strict=True)
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        covariance = sum((x - mean_x) * (y - mean_y) for x, y in pairs)
        variance_x = sum((x - mean_x) ** 2 for x in xs)
        variance_y = sum((y - mean_y) ** 2 for y in ys)
        beta = covariance / variance_x
        assert math.isclose(row["btc_beta_14d"], beta, rel_tol=1e-6)
        assert math.isclose(
            row["btc_correlation_14d"],
            covariance / math.sqrt(variance_x * variance_y),
            rel_tol=1e-6,
        )
        move = row["change_pct"]
        if move:
            share = min(1.0, max(0.0, beta * row["btc_change_pct"] / move))
            assert math.isclose(row["btc_explained_share"], share, rel_tol=1e-6, abs_tol=1e-9)
    late = [row for row in rows if row["price_date"] >= date(2026, 1, 20)]
    assert all(row["btc_correlation_14d"] > 0.5 for row in late)


# --------------------------------------------------------------------------- cascades


def truth_daily(settings: Settings) -> dict[tuple[str, date], float]:
    """(base asset, day) -> long + short USD liquidated in the simulated market (all orders)."""
    totals: dict[tuple[str, date], float] = defaultdict(float)
    for path in sorted((truth_dir(settings) / "daily").glob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            asset = row["symbol"].removesuffix("USDT")
            totals[(asset, row["day"])] += row["long_liquidated_usd"] + row["short_liquidated_usd"]
    return totals


def test_cascades_land_on_the_big_liquidation_days(crash):
    cascades = read(crash, "select * from marts.liquidation_cascades order by start_at")
    truth = truth_daily(crash)
    assert cascades
    by_asset_day: dict[tuple[str, date], list[dict]] = defaultdict(list)
    for cascade in cascades:
        by_asset_day[(cascade["base_asset"], cascade["start_date"])].append(cascade)
        assert cascade["end_at"] - cascade["start_at"] == timedelta(
            minutes=cascade["duration_minutes"]
        )
        assert cascade["dominant_side"] == (
            "long"
            if cascade["long_liquidations_usd"] >= cascade["short_liquidations_usd"]
            else "short"
        )
        assert cascade["peak_liquidation_usd_per_minute"] * 5 >= 2_000_000
    # Cascades fall on the asset's busier days (top half by true liquidations): a sharp burst
    # on a quieter day is a cascade too, but it is the exception.
    for asset in {asset for asset, _ in by_asset_day}:
        days = sorted((usd, day) for (a, day), usd in truth.items() if a == asset)
        busiest = {day for _, day in days[-max(1, len(days) // 2) :]}
        mine = [len(found) for (a, day), found in by_asset_day.items() if a == asset]
        on_busy = [len(found) for (a, day), found in by_asset_day.items()
                   if a == asset and day in busiest]  # fmt: skip
        assert sum(on_busy) >= 0.9 * sum(mine), asset
    # BTC's three busiest days of the sell-off each have a cascade.
    btc_days = sorted(((usd, day) for (a, day), usd in truth.items() if a == "BTC"), reverse=True)
    assert all(("BTC", day) in by_asset_day for _, day in btc_days[:3])
    # market_stress_daily counts the cascades by start day.
    counts = defaultdict(int)
    for cascade in cascades:
        counts[cascade["start_date"]] += 1
    assert {day: row["cascade_count"] for day, row in stress_rows(crash).items()} == {
        day: counts.get(day, 0) for day in stress_rows(crash)
    }


def test_cascade_totals_match_the_liquidations_inside_them(crash):
    (cascade,) = read(
        crash,
        "select * from marts.liquidation_cascades "
        "order by long_liquidations_usd + short_liquidations_usd desc limit 1",
    )
    liquidations = read(
        crash,
        "select exchange_id, position_side, liquidated_notional_usd, avg_fill_price_quote, "
        "liquidated_at, liquidation_id from core.fct_liquidations "
        f"where base_asset = '{cascade['base_asset']}' "
        f"and liquidated_at >= '{cascade['start_at']}' and liquidated_at < '{cascade['end_at']}' "
        "order by liquidated_at, liquidation_id",
    )
    for side in ("long", "short"):
        total = sum(
            r["liquidated_notional_usd"] for r in liquidations if r["position_side"] == side
        )
        assert math.isclose(cascade[f"{side}_liquidations_usd"], total, rel_tol=1e-9, abs_tol=1e-6)
    assert cascade["liquidation_count"] == len(liquidations)
    assert cascade["venues_involved"] == len({r["exchange_id"] for r in liquidations})
    first, last = liquidations[0]["avg_fill_price_quote"], liquidations[-1]["avg_fill_price_quote"]
    assert math.isclose(cascade["price_move_pct"], (last / first - 1) * 100, rel_tol=1e-9)


def test_calm_market_has_few_cascades(calm):
    cascades = read(calm, "select * from marts.liquidation_cascades")
    asset_days = read(
        calm,
        "select count(*) as n from "
        "(select distinct liquidation_date, base_asset from marts.liquidations_daily)",
    )[0]["n"]
    assert asset_days >= 5 * 20
    assert len(cascades) <= CALM_CASCADES_PER_ASSET_DAY * asset_days


# --------------------------------------------------------------------------- treasury


def seed_filings() -> list[dict]:
    with TREASURY_SEED.open(newline="") as handle:
        return sorted(csv.DictReader(handle), key=lambda row: row["filing_date"])


def test_treasury_marks_the_latest_filing_to_the_btc_close(crash):
    filings = seed_filings()
    closes = reference_closes(crash)["BTC"]
    rows = read(crash, "select * from marts.treasury_holdings_daily order by holding_date")
    assert [row["holding_date"] for row in rows] == sorted(closes)
    for row in rows:
        known = [f for f in filings if date.fromisoformat(f["filing_date"]) <= row["holding_date"]]
        holdings = float(known[-1]["btc_holdings"])
        cost_basis = sum(float(f["purchase_cost_usd"]) for f in known)
        close = closes[row["holding_date"]]["close_usd"]
        assert row["holdings_as_of_date"] == date.fromisoformat(known[-1]["filing_date"])
        assert row["btc_holdings"] == holdings
        assert math.isclose(row["cost_basis_usd"], cost_basis, rel_tol=1e-12)
        assert math.isclose(row["unrealized_pnl_usd"], holdings * close - cost_basis, rel_tol=1e-9)
    last = rows[-1]
    assert last["btc_holdings"] == 713_502
    assert last["unrealized_pnl_usd"] < 0


def test_treasury_seed_keeps_its_provenance():
    filings = seed_filings()
    assert {row["data_grade"] for row in filings} == {"SECONDARY"}
    inferred = [row for row in filings if row["is_inferred"] == "true"]
    assert all(row["source_reference"].startswith("INFERRED") for row in inferred)
    assert len(inferred) == 3
    assert all(float(row["btc_acquired"]) > 0 for row in filings)
