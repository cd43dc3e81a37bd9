"""A cascade the simulator generated is found in its ground truth, with its start, end and size.

The session's offline warehouse (tests/e2e/conftest.py: the crash preset's last 11 days, BTC and
ETH, on Binance, Bybit and OKX) detects cascades from what the venues published. The simulator
wrote every forced order it generated, published or not, to its truth
(`simulator.truth`): each cascade in `marts.liquidation_cascades` must be a burst there, begin
and end where the truth's burst does, and hold exactly the published share of its orders; and
the largest burst in the truth must be inside a cascade the warehouse found.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime

import duckdb
import pyarrow.parquet as pq
import pytest
from offline_run import WINDOW, query_marts

from include.cryptodw.offline import truth_dir
from include.cryptodw.simulator.truth import truth_path

BUCKET_MS = 5 * 60_000
DAY_MS = 86_400_000


def _ms(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def truth(warehouse) -> dict[str, list[dict]]:
    """Every forced order the simulator generated in the window, per base asset, by time."""
    orders: dict[str, list[dict]] = defaultdict(list)
    for day in WINDOW.days:
        for row in pq.read_table(truth_path(truth_dir(warehouse), "liquidations", day)).to_pylist():
            orders[row["symbol"].removesuffix("USDT")].append(row)
    return {asset: sorted(rows, key=lambda r: r["trade_time_ms"]) for asset, rows in orders.items()}


@pytest.fixture(scope="module")
def cascades(warehouse) -> list[dict]:
    columns = ["base_asset", "start_at", "end_at", "liquidation_count"]
    rows = query_marts(
        warehouse, f"select {', '.join(columns)} from marts.liquidation_cascades order by start_at"
    )
    assert rows, "the crash preset's sell-off liquidates in cascades"
    return [dict(zip(columns, row, strict=True)) for row in rows]


def _published_quote(order: dict) -> float:
    """What the venue's feed said the order was worth: Binance prints the fill price, Bybit and
    OKX the bankruptcy price."""
    return (
        order["notional_usd"] if order["venue"] == "binance" else order["bankruptcy_notional_usd"]
    )


def _inside(orders: list[dict], start_ms: int, end_ms: int) -> list[dict]:
    return [o for o in orders if start_ms <= o["trade_time_ms"] < end_ms]


def test_every_cascade_is_a_burst_of_the_simulated_market(warehouse, truth, cascades):
    for cascade in cascades:
        start_ms, end_ms = _ms(cascade["start_at"]), _ms(cascade["end_at"])
        orders = _inside(truth[cascade["base_asset"]], start_ms, end_ms)
        published = [o for o in orders if o["venue"] != "binance" or o["pushed"]]
        # Start and end: the truth's burst opens in the first 5 minutes and runs into the last.
        assert start_ms <= published[0]["trade_time_ms"] < start_ms + BUCKET_MS
        assert end_ms - BUCKET_MS <= published[-1]["trade_time_ms"] < end_ms
        # Size: the warehouse holds exactly the published orders, side by side.
        assert cascade["liquidation_count"] == len(published)
        with duckdb.connect(str(warehouse.published_path), read_only=True) as con:
            held = con.execute(
                "select position_side, sum(liquidated_notional_quote) from core.fct_liquidations "
                "where base_asset = ? and liquidated_at >= ? and liquidated_at < ? group by 1",
                [cascade["base_asset"], cascade["start_at"], cascade["end_at"]],
            ).fetchall()
        for side, quote in held:
            expected = sum(
                _published_quote(o) for o in published if o["position_side"] == side.upper()
            )
            assert math.isclose(quote, expected, rel_tol=1e-9), (cascade, side)
        # A real burst: every order generated inside it, at least 10 times the rate of the day
        # before (the detector's own rule, applied to the truth rather than the feeds).
        before = _inside(truth[cascade["base_asset"]], start_ms - DAY_MS, start_ms)
        rate_inside = sum(o["notional_usd"] for o in orders) / (end_ms - start_ms)
        rate_before = sum(o["notional_usd"] for o in before) / DAY_MS
        assert rate_inside > 10 * rate_before, cascade


def test_the_largest_simulated_burst_is_a_cascade(truth, cascades):
    """BTC's busiest 5 minutes in the truth (every order, every venue) lie in a cascade."""
    buckets: dict[int, float] = defaultdict(float)
    for order in truth["BTC"]:
        buckets[order["trade_time_ms"] // BUCKET_MS * BUCKET_MS] += order["notional_usd"]
    busiest = max(buckets, key=buckets.__getitem__)
    found = [
        c for c in cascades
        if c["base_asset"] == "BTC" and _ms(c["start_at"]) <= busiest < _ms(c["end_at"])
    ]  # fmt: skip
    assert found, f"no cascade over {datetime.fromtimestamp(busiest / 1000, UTC)}"
