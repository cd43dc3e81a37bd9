"""The `crash` preset reproduces the sell-off the seed report describes (seed 7, five majors).

The reference figures are the report's (../shared/seed/market-selloff-report.txt, kept in
`simulator.calibration`, whose report lists them too), market-wide
totals: liquidations and open interest are summed across the three simulated venues. The model
is tuned to land near them, never told them. Tolerances are loose: the preset is a plausible
market, not a replay of one. The model runs without writing files: its truth holds what each
venue's feed published, and liquidations are compared as published, since the report's come
from aggregators reading the same feeds and the warehouse can only show those.
"""

from __future__ import annotations

from datetime import date

import pytest

from include.cryptodw.simulator import calibration as seed_report
from include.cryptodw.simulator.market import MarketSimulation
from include.cryptodw.simulator.presets import VENUES, get_preset, resolve_specs
from include.cryptodw.simulator.truth import daily_truth

SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT")
START, END = date(2026, 1, 1), date(2026, 2, 6)  # the last day, 2026-02-05, is the sell-off


@pytest.fixture(scope="module")
def daily():
    """Per day and symbol, every venue together: close, closing open interest and liquidated
    notional (the model's truth, summed across Binance, Bybit and OKX as the report's are)."""
    specs = resolve_specs(SYMBOLS)
    model = MarketSimulation(get_preset("crash"), START, END, specs, 7, VENUES)
    days = []
    for market_day in model.days():
        rows = [row for venue_day in market_day.venues.values()
                for row in daily_truth(venue_day, market_day).to_pylist()]  # fmt: skip
        days.append({symbol: _across_venues(rows, symbol) for symbol in SYMBOLS})
    return days


def _across_venues(rows: list[dict], symbol: str) -> dict:
    mine = [row for row in rows if row["symbol"] == symbol]
    assert {row["venue"] for row in mine} == set(VENUES)
    binance = next(row for row in mine if row["venue"] == "binance")
    return {
        "close": binance["close"],
        "close_open_interest_usd": sum(row["close_open_interest_usd"] for row in mine),
        "long_liquidated_usd": sum(row["long_liquidated_usd"] for row in mine),
        "long_liquidated_published_usd": {
            row["venue"]: row["long_liquidated_published_usd"] for row in mine
        },
        "long_liquidated_bankruptcy_usd": {
            row["venue"]: row["long_liquidated_bankruptcy_usd"] for row in mine
        },
    }


def _near(value: float, reference: float) -> bool:
    return abs(value - reference) <= seed_report.SELL_OFF_TOLERANCE * abs(reference)


def test_sell_off_day_prices(daily):
    last, previous = daily[-1], daily[-2]
    assert _near(last["BTCUSDT"]["close"], seed_report.SELL_OFF_BTC_CLOSE)
    for symbol, reported in seed_report.SELL_OFF_DAY_CHANGE_PCT.items():
        change = 100 * (last[symbol]["close"] / previous[symbol]["close"] - 1)
        assert _near(change, reported), (symbol, change)


def test_btc_long_liquidations_as_published(daily):
    longs = [sum(day["BTCUSDT"]["long_liquidated_published_usd"].values()) for day in daily]
    assert _near(longs[-1], seed_report.SELL_OFF_BTC_LONGS_LIQUIDATED_USD["1d"])
    assert _near(sum(longs[-7:]), seed_report.SELL_OFF_BTC_LONGS_LIQUIDATED_USD["7d"])
    month = sum(longs[-30:])
    floor = seed_report.SELL_OFF_BTC_LONGS_LIQUIDATED_30D_FLOOR_USD
    assert floor <= month <= (1 + seed_report.SELL_OFF_TOLERANCE) * floor
    # Leverage clears over weeks: no single day dominates, and the first day is no artefact.
    assert max(longs) < 0.25 * month
    assert longs[0] < 0.1 * longs[-1]


def test_only_binances_sampled_stream_leaves_liquidations_out(daily):
    """Bybit and OKX publish every order (at its bankruptcy price); Binance's stream pushes one
    order per symbol and second, so in a busy month the truth is well above what it shows."""
    btc = [day["BTCUSDT"] for day in daily]
    for day in btc:
        for venue in ("bybit", "okx"):
            published = day["long_liquidated_published_usd"][venue]
            assert published == pytest.approx(day["long_liquidated_bankruptcy_usd"][venue])
    published = sum(sum(day["long_liquidated_published_usd"].values()) for day in btc[-30:])
    truth = sum(day["long_liquidated_usd"] for day in btc[-30:])
    binance = sum(day["long_liquidated_published_usd"]["binance"] for day in btc[-30:])
    assert published < truth
    assert binance < 0.5 * _binance_part(truth)


def _binance_part(total: float) -> float:
    """Binance's part of `total` by its share of BTC's market (`SymbolSpec.venue_shares`)."""
    (spec,) = resolve_specs(("BTCUSDT",))
    return dict(spec.venue_shares)["binance"] * total


def test_venues_split_the_market_in_their_shares():
    """Binance holds about 45 % of BTC's liquidations; each venue's orders are its own share."""
    specs = resolve_specs(("BTCUSDT",))
    model = MarketSimulation(get_preset("crash"), date(2026, 2, 4), END, specs, 7, VENUES)
    last = list(model.days())[-1]
    usd = {v: float(d.liquidations.notional_usd(specs).sum()) for v, d in last.venues.items()}
    total = sum(usd.values())
    for venue, share in dict(specs[0].venue_shares).items():
        assert usd[venue] == pytest.approx(share * total, rel=0.03), venue


def test_open_interest_unwinds(daily):
    total = [sum(row["close_open_interest_usd"] for row in day.values()) for day in daily]
    day_change = 100 * (total[-1] / total[-2] - 1)
    month_change = 100 * (total[-1] / total[-31] - 1)
    assert _near(day_change, seed_report.SELL_OFF_OPEN_INTEREST_CHANGE_PCT["1d"])
    assert _near(month_change, seed_report.SELL_OFF_OPEN_INTEREST_CHANGE_PCT["30d"])


def test_btc_breaks_75k_then_70k_in_the_last_weeks(daily):
    closes = [day["BTCUSDT"]["close"] for day in daily]
    below_75k = next(i for i, close in enumerate(closes) if close < 75_000)
    below_70k = next(i for i, close in enumerate(closes) if close < 70_000)
    assert len(closes) - 21 <= below_75k < below_70k < len(closes) - 1
