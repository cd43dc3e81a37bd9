"""The `crash` preset reproduces the sell-off the seed report describes (seed 7, five majors).

The reference figures are the report's (../shared/seed/market-selloff-report.txt): the model is
tuned to land near them, never told them. Tolerances are loose: the preset is a plausible
market, not a replay of one.
"""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq
import pytest

from include.cryptodw.simulator import simulate

SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT")
START, END = date(2026, 1, 1), date(2026, 2, 6)  # the last day, 2026-02-05, is the sell-off
TOLERANCE = 0.25

# Seed report: last-day close-to-close changes (%), BTC longs liquidated, total open interest.
REPORTED_DAY_CHANGE_PCT = {
    "BTCUSDT": -1.88,
    "ETHUSDT": -2.97,
    "BNBUSDT": -1.17,
    "SOLUSDT": -3.88,
    "XRPUSDT": -2.34,
}
REPORTED_BTC_CLOSE = 67_460.0
REPORTED_BTC_LONGS_LIQUIDATED_USD = {"1d": 237e6, "7d": 2.16e9}
REPORTED_BTC_LONGS_LIQUIDATED_30D_FLOOR_USD = 4.4e9
REPORTED_OPEN_INTEREST_CHANGE_PCT = {"1d": -4.4, "30d": -34.0}


@pytest.fixture(scope="module")
def daily(tmp_path_factory):
    """Per day and symbol: close, closing open interest and liquidated notional (truth)."""
    root = tmp_path_factory.mktemp("crash")
    simulate(
        "crash",
        START,
        END,
        replay_root=root / "replay",
        truth_root=root / "truth",
        symbols=SYMBOLS,
        seed=7,
    )
    table = pq.read_table(sorted((root / "truth" / "daily").glob("*.parquet")))
    rows = table.to_pylist()
    days = sorted({r["day"] for r in rows})
    by_day = {d: {r["symbol"]: r for r in rows if r["day"] == d} for d in days}
    return [by_day[d] for d in days]


def _near(value: float, reference: float) -> bool:
    return abs(value - reference) <= TOLERANCE * abs(reference)


def test_sell_off_day_prices(daily):
    last, previous = daily[-1], daily[-2]
    assert _near(last["BTCUSDT"]["close"], REPORTED_BTC_CLOSE)
    for symbol, reported in REPORTED_DAY_CHANGE_PCT.items():
        change = 100 * (last[symbol]["close"] / previous[symbol]["close"] - 1)
        assert _near(change, reported), (symbol, change)


def test_btc_long_liquidations(daily):
    longs = [day["BTCUSDT"]["long_liquidated_usd"] for day in daily]
    assert _near(longs[-1], REPORTED_BTC_LONGS_LIQUIDATED_USD["1d"])
    assert _near(sum(longs[-7:]), REPORTED_BTC_LONGS_LIQUIDATED_USD["7d"])
    month = sum(longs[-30:])
    floor = REPORTED_BTC_LONGS_LIQUIDATED_30D_FLOOR_USD
    assert floor <= month <= (1 + TOLERANCE) * floor
    # Leverage clears over weeks: no single day dominates, and the first day is no artefact.
    assert max(longs) < 0.25 * month
    assert longs[0] < 0.1 * longs[-1]


def test_open_interest_unwinds(daily):
    total = [sum(row["close_open_interest_usd"] for row in day.values()) for day in daily]
    day_change = 100 * (total[-1] / total[-2] - 1)
    month_change = 100 * (total[-1] / total[-31] - 1)
    assert _near(day_change, REPORTED_OPEN_INTEREST_CHANGE_PCT["1d"])
    assert _near(month_change, REPORTED_OPEN_INTEREST_CHANGE_PCT["30d"])


def test_btc_breaks_75k_then_70k_in_the_last_weeks(daily):
    closes = [day["BTCUSDT"]["close"] for day in daily]
    below_75k = next(i for i, close in enumerate(closes) if close < 75_000)
    below_70k = next(i for i, close in enumerate(closes) if close < 70_000)
    assert len(closes) - 21 <= below_75k < below_70k < len(closes) - 1
