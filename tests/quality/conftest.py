"""Valid fixture rows for every quality suite; each test breaks a copy in one known way.

The window is three UTC days, Tue 2024-01-30 .. Thu 2024-02-01, so it crosses a month boundary
(and 2024 is a leap year: February has 29 days).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest

from include.cryptodw.sources.venues import raw_datasets
from include.cryptodw.windows import Window

WINDOW = Window(date(2024, 1, 30), date(2024, 2, 2))
SYMBOLS = ("BTCUSDT", "ETHUSDT")
ASSETS = ("BTC", "ETH")
MS = timedelta(milliseconds=1)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _candle(symbol: str, interval: str, opened: datetime, length: timedelta) -> dict:
    return {
        "symbol": symbol,
        "interval": interval,
        "open_time": opened,
        "close_time": opened + length - MS,
        "open_price": 100.0,
        "high_price": 110.0,
        "low_price": 90.0,
        "close_price": 105.0,
        "volume_base": 1_000.0,
        "volume_quote": 100_000.0,
        "trade_count": 500,
        "taker_buy_volume_base": 400.0,
        "taker_buy_volume_quote": 40_000.0,
        "_source": "test://klines",
    }


def raw_klines() -> list[dict]:
    """Per symbol: one 1d candle per window day, and the first two 1h candles of day one."""
    rows = []
    for symbol in SYMBOLS:
        for day in WINDOW.days:
            rows.append(_candle(symbol, "1d", _midnight(day), timedelta(days=1)))
        for hour in range(2):
            opened = _midnight(WINDOW.start) + timedelta(hours=hour)
            rows.append(_candle(symbol, "1h", opened, timedelta(hours=1)))
    return rows


def raw_open_interest() -> list[dict]:
    """Per symbol and day: all 288 five-minute snapshots."""
    return [
        {
            "symbol": symbol,
            "snapshot_at": _midnight(day) + timedelta(minutes=5 * i),
            "open_interest_base": 1_000.0 + i,
            "open_interest_quote": (1_000.0 + i) * 100.0,
            "_source": "test://metrics",
        }
        for symbol in SYMBOLS
        for day in WINDOW.days
        for i in range(288)
    ]


def raw_funding() -> list[dict]:
    """Per symbol and day: three 8-hourly settlements."""
    return [
        {
            "symbol": symbol,
            "funding_time": _midnight(day) + timedelta(hours=hour),
            "funding_rate": 0.0001,
            "funding_interval_hours": 8,
            "mark_price": 100.0,
            "_source": "test://funding",
        }
        for symbol in SYMBOLS
        for day in WINDOW.days
        for hour in (0, 8, 16)
    ]


def raw_liquidations() -> list[dict]:
    """One long (SELL order) and one short (BUY order) liquidation per symbol and day."""
    return [
        {
            "symbol": symbol,
            "order_side": side,
            "order_type": "LIMIT",
            "time_in_force": "IOC",
            "order_status": "FILLED",
            "original_qty": 0.5,
            "last_filled_qty": 0.5,
            "filled_qty": 0.5,
            "order_price": 99.0,
            "avg_price": 100.0,
            "trade_time": _midnight(day) + timedelta(hours=hour),
            "event_time": _midnight(day) + timedelta(hours=hour, milliseconds=5),
            "received_at": _midnight(day) + timedelta(hours=hour, milliseconds=40),
            "_source": "test://force-orders",
        }
        for symbol in SYMBOLS
        for day in WINDOW.days
        for hour, side in ((3, "SELL"), (15, "BUY"))
    ]


def raw_coverage_gaps() -> list[dict]:
    """A 90-minute reconnect across the first midnight (cut in two parts) and a shutdown gap
    still open on the last day (it runs to the window's end)."""
    first_midnight = _midnight(WINDOW.days[1])
    gap = {
        "stream": "forceOrder",
        "gap_start": first_midnight - timedelta(minutes=30),
        "gap_end": first_midnight + timedelta(hours=1),
        "reason": "connection_lost",
        "detail": "no close frame (1006)",
        "collector": "host:1:1706572800000",
        "recorded_at": first_midnight + timedelta(hours=1),
        "_source": "ws/binance/_coverage/2024-01-31.jsonl",
    }
    shutdown_at = _midnight(WINDOW.days[-1]) + timedelta(hours=20)
    return [
        {**gap, "uncovered_from": gap["gap_start"], "uncovered_until": first_midnight},
        {**gap, "uncovered_from": first_midnight, "uncovered_until": gap["gap_end"]},
        {**gap, "gap_start": shutdown_at, "gap_end": None, "reason": "shutdown",
         "detail": "collector stopped", "recorded_at": shutdown_at,
         "uncovered_from": shutdown_at, "uncovered_until": _midnight(WINDOW.end),
         "_source": "ws/binance/_coverage/2024-02-01.jsonl"},
    ]  # fmt: skip


def stg_coverage_gaps() -> list[dict]:
    return [
        {
            "coverage_gap_id": f"gap-{index}",
            "exchange_id": "binance",
            "stream": row["stream"],
            "collector_id": row["collector"],
            "gap_reason": row["reason"],
            "gap_detail": row["detail"],
            "uncovered_seconds": (row["uncovered_until"] - row["uncovered_from"]).total_seconds(),
            "is_open_gap": row["gap_end"] is None,
            "gap_started_at": row["gap_start"],
            "gap_ended_at": row["gap_end"],
            "uncovered_start_at": row["uncovered_from"],
            "uncovered_end_at": row["uncovered_until"],
            "recorded_at": row["recorded_at"],
            "_partition_date": pd.Timestamp(row["uncovered_from"].date()),
            "_source": row["_source"],
        }
        for index, row in enumerate(raw_coverage_gaps())
    ]


def _staged(
    rows: list[dict], time_column: str, renames: dict[str, str], **derived: Callable
) -> list[dict]:
    """Raw rows as a staging model returns them: ids, renamed columns, partition date."""
    return [
        {
            "exchange_id": "binance",
            "symbol": row["symbol"],
            "base_asset": row["symbol"].removesuffix("USDT"),
            "quote_asset": "USDT",
            "contract_type": "perpetual",
            **{new: row[old] for old, new in renames.items()},
            **{name: derive(row) for name, derive in derived.items()},
            "_partition_date": pd.Timestamp(row[time_column].date()),
        }
        for row in rows
    ]


def stg_liquidations() -> list[dict]:
    renames = {
        "filled_qty": "liquidated_qty_coin",
        "avg_price": "avg_fill_price_quote",
        "trade_time": "liquidated_at",
    }
    return _staged(
        raw_liquidations(),
        "trade_time",
        renames,
        liquidation_id=lambda row: f"{row['symbol']}-{row['trade_time']:%Y%m%d%H}",
        position_side=lambda row: "long" if row["order_side"] == "SELL" else "short",
        liquidated_notional_quote=lambda row: row["filled_qty"] * row["avg_price"],
        is_sampled_feed=lambda row: True,
    )


def stg_open_interest() -> list[dict]:
    renames = {
        "open_interest_base": "open_interest_coin",
        "open_interest_quote": "open_interest_quote",
        "snapshot_at": "snapshot_at",
    }
    return _staged(raw_open_interest(), "snapshot_at", renames)


def stg_funding() -> list[dict]:
    renames = {
        "funding_rate": "funding_rate",
        "funding_interval_hours": "funding_interval_hours",
        "mark_price": "mark_price_quote",
        "funding_time": "funding_at",
    }
    return _staged(raw_funding(), "funding_time", renames)


def stg_klines() -> list[dict]:
    renames = {
        "interval": "kline_interval",
        **{f"{p}_price": f"{p}_price_quote" for p in ("open", "high", "low", "close")},
        "volume_base": "volume_coin",
        "volume_quote": "volume_quote",
        "open_time": "candle_open_at",
        "close_time": "candle_close_at",
    }
    return _staged(raw_klines(), "open_time", renames)


def stg_instruments(venue: str) -> list[dict]:
    """One instruments snapshot of a venue, taken on the window's last day."""
    return [
        {
            "exchange_id": venue,
            "symbol": symbol,
            "base_asset": symbol.removesuffix("USDT"),
            "quote_asset": "USDT",
            "contract_type": "perpetual",
            "venue_instrument_id": symbol,
            "contract_size_coin": 1.0,
            "tick_size_quote": 0.1,
            "lot_size_coin": 0.001,
            "min_order_qty_coin": 0.001,
            "snapshot_at": _midnight(WINDOW.days[-1]) + timedelta(hours=12),
            "_partition_date": pd.Timestamp(WINDOW.days[-1]),
        }
        for symbol in SYMBOLS
    ]


def stg_manifests() -> list[dict]:
    """One manifest per landed kline file: symbol x 1d x window day."""
    return [
        {
            "exchange_id": "binance",
            "dataset": "klines",
            "part": f"{symbol}-1d",
            "symbol": symbol,
            "kline_interval": "1d",
            "file_sha256": f"{index:064x}",
            "landed_row_count": 1,
            "is_market_wide": False,
            "capture_date": pd.Timestamp(day),
            "landed_at": _midnight(WINDOW.end) + timedelta(minutes=index),
            "first_fetched_at": _midnight(WINDOW.end),
            "_partition_date": pd.Timestamp(day),
        }
        for index, (symbol, day) in enumerate((s, d) for s in SYMBOLS for d in WINDOW.days)
    ]


def _daily_grain(date_column: str) -> list[dict]:
    return [
        {date_column: pd.Timestamp(day), "exchange_id": "binance", "base_asset": asset}
        for day in WINDOW.days
        for asset in ASSETS
    ]


LIQUIDATION_MEASURES = {
    "long_liquidations_usd": 1_000.0,
    "short_liquidations_usd": 500.0,
    "total_liquidations_usd": 1_500.0,
    "long_liquidations_coin": 10.0,
    "short_liquidations_coin": 5.0,
    "long_liquidation_count": 3,
    "short_liquidation_count": 2,
    "liquidation_count": 5,
    "largest_liquidation_usd": 800.0,
    "is_sampled_feed": True,
}
FULL_DAY = {"captured_seconds": 86_400.0, "capture_coverage_pct": 100.0, "has_capture_gap": False}
TRAILING = {
    "long_liquidations_24h_usd": 1_000.0,
    "short_liquidations_24h_usd": 500.0,
    "long_liquidations_7d_usd": 3_000.0,
    "short_liquidations_7d_usd": 1_500.0,
    "long_liquidations_30d_usd": 3_000.0,
    "short_liquidations_30d_usd": 1_500.0,
    "capture_coverage_7d_pct": 300 / 7,
    "capture_coverage_30d_pct": 10.0,
}


def _open_interest_measures() -> dict:
    coin = {"close": 100.0, "avg": 95.0, "min": 90.0, "max": 105.0}
    return {
        **{f"open_interest_coin_{agg}": value for agg, value in coin.items()},
        **{f"open_interest_usd_{agg}": value * 40_000.0 for agg, value in coin.items()},
        "snapshot_count": 288,
        "open_interest_usd_change_pct": 1.5,
        "open_interest_coin_change_pct": -0.5,
    }


def _periods(date_column: str, starts_and_lengths: list[tuple[date, int, int, bool]]) -> list[dict]:
    return [
        {
            date_column: pd.Timestamp(start),
            "exchange_id": "binance",
            "base_asset": asset,
            "days_in_period": days_in_period,
            "days_with_data": days_with_data,
            "is_complete_period": complete,
        }
        for start, days_in_period, days_with_data, complete in starts_and_lengths
        for asset in ASSETS
    ]


WEEKS = [(date(2024, 1, 29), 7, 3, False)]
MONTHS = [(date(2024, 1, 1), 31, 2, True), (date(2024, 2, 1), 29, 1, False)]


def liquidations_hourly() -> list[dict]:
    """Two hours of each window day; the second hour of the last day fell into a gap."""
    rows = []
    for day in WINDOW.days:
        for hour in range(2):
            gap = (day, hour) == (WINDOW.days[-1], 1)
            hour_measures = {
                **LIQUIDATION_MEASURES,
                **({column: None for column in LIQUIDATION_MEASURES} if gap else {}),
                "is_sampled_feed": True,
                "captured_seconds": 0.0 if gap else 3_600.0,
                "capture_coverage_pct": 0.0 if gap else 100.0,
                "has_capture_gap": gap,
            }
            for asset in ASSETS:
                rows.append(
                    {
                        "hour_start_at": _midnight(day) + timedelta(hours=hour),
                        "liquidation_date": pd.Timestamp(day),
                        "exchange_id": "binance",
                        "base_asset": asset,
                        **hour_measures,
                    }
                )
    return rows


def liquidations_daily() -> list[dict]:
    return [
        {**row, **LIQUIDATION_MEASURES, **FULL_DAY, **TRAILING}
        for row in _daily_grain("liquidation_date")
    ]


def _period_coverage(row: dict) -> dict:
    seconds = row["days_with_data"] * 86_400.0
    return {
        "captured_seconds": seconds,
        "capture_coverage_pct": seconds / (row["days_in_period"] * 864.0),
        "has_capture_gap": False,
    }


def liquidations_weekly() -> list[dict]:
    return [
        {**row, **LIQUIDATION_MEASURES, **_period_coverage(row)}
        for row in _periods("week_start_date", WEEKS)
    ]


def liquidations_monthly() -> list[dict]:
    return [
        {**row, **LIQUIDATION_MEASURES, **_period_coverage(row)}
        for row in _periods("month_start_date", MONTHS)
    ]


def open_interest_daily() -> list[dict]:
    return [{**row, **_open_interest_measures()} for row in _daily_grain("snapshot_date")]


def open_interest_weekly() -> list[dict]:
    return [{**row, **_open_interest_measures()} for row in _periods("week_start_date", WEEKS)]


def open_interest_monthly() -> list[dict]:
    return [{**row, **_open_interest_measures()} for row in _periods("month_start_date", MONTHS)]


def prices_daily() -> list[dict]:
    prices = {
        "open_usd": 100.0,
        "high_usd": 110.0,
        "low_usd": 90.0,
        "close_usd": 105.0,
        "volume_coin": 1_000.0,
        "volume_usd": 100_000.0,
        "change_pct": 2.0,
    }
    return [{**row, **prices} for row in _daily_grain("price_date")]


def asset_prices_daily() -> list[dict]:
    return [
        {
            "price_date": pd.Timestamp(day),
            "base_asset": asset,
            "reference_exchange_id": "binance",
            "open_usd": 100.0,
            "high_usd": 110.0,
            "low_usd": 90.0,
            "close_usd": 105.0,
            "change_pct": 2.0,
            "venues_reporting": 1,
        }
        for day in WINDOW.days
        for asset in ASSETS
    ]


def support_levels() -> list[dict]:
    return [
        {
            "base_asset": "BTC",
            "level_type": "round_number",
            "level_usd": level,
            "level_step_usd": 5_000.0,
            "established_date": pd.Timestamp(WINDOW.start),
            "first_broken_date": broken,
            "is_broken": broken is not None,
            "latest_price_date": pd.Timestamp(WINDOW.days[-1]),
            "latest_close_usd": 72_000.0,
            "latest_close_vs_level_pct": (72_000.0 / level - 1) * 100,
            "is_next_below": level == 70_000.0,
        }
        for level, broken in ((75_000.0, pd.Timestamp(WINDOW.days[-1])), (70_000.0, None))
    ]


def contagion_daily() -> list[dict]:
    return [
        {
            "price_date": pd.Timestamp(day),
            "base_asset": "ETH",
            "change_pct": -3.0,
            "btc_change_pct": -2.0,
            "paired_days_14d": 12,
            "btc_correlation_14d": 0.8,
            "btc_beta_14d": 1.3,
            "btc_explained_share": 0.87,
        }
        for day in WINDOW.days
    ]


def liquidation_cascades() -> list[dict]:
    start = _midnight(WINDOW.start) + timedelta(hours=14)
    return [
        {
            "cascade_id": "BTC-20240130T1400",
            "base_asset": "BTC",
            "start_at": start,
            "end_at": start + timedelta(minutes=15),
            "start_date": pd.Timestamp(WINDOW.start),
            "duration_minutes": 15,
            "hot_bucket_count": 3,
            "venues_involved": 1,
            "liquidation_count": 120,
            "long_liquidations_usd": 9_000_000.0,
            "short_liquidations_usd": 100_000.0,
            "dominant_side": "long",
            "first_fill_price_usd": 43_000.0,
            "last_fill_price_usd": 42_100.0,
            "price_move_pct": -2.09,
            "peak_liquidation_usd_per_minute": 1_000_000.0,
            "baseline_bucket_usd": 50_000.0,
        }
    ]


def treasury_holdings_daily() -> list[dict]:
    holdings, cost, close = 10.0, 400_000.0, 42_000.0
    return [
        {
            "holding_date": pd.Timestamp(day),
            "holder_id": "strategy",
            "holder_name": "Strategy",
            "holdings_as_of_date": pd.Timestamp(WINDOW.start),
            "btc_holdings": holdings,
            "cost_basis_usd": cost,
            "average_cost_usd_per_btc": cost / holdings,
            "btc_close_usd": close,
            "market_value_usd": holdings * close,
            "unrealized_pnl_usd": holdings * close - cost,
            "unrealized_pnl_pct": (holdings * close / cost - 1) * 100,
            "is_inferred": False,
            "source_reference": "8-K",
        }
        for day in WINDOW.days
    ]


def market_stress_daily() -> list[dict]:
    liquidations = {
        f"{scope}{side}_liquidations_{horizon}_usd": amount
        for scope in ("btc_", "")
        for side in ("long", "short")
        for horizon, amount in (("24h", 1e6), ("7d", 5e6), ("30d", 2e7))
    }
    majors = {
        f"{asset}_{measure}": value
        for asset in ("btc", "eth", "bnb", "sol", "xrp")
        for measure, value in (("close_usd", 100.0), ("change_pct", -2.0))
    }
    return [
        {
            "stress_date": pd.Timestamp(day),
            **majors,
            "assets_tracked": 5,
            "assets_down": 5,
            "breadth_label": "systemic",
            **liquidations,
            "liquidation_days_30d": 30,
            "venues_reporting": 1,
            "open_interest_usd": 2.5e10,
            "open_interest_1d_change_pct": -4.4,
            "open_interest_30d_change_pct": -34.0,
            "is_deleveraging": True,
            "btc_next_support_usd": 95.0,
            "btc_next_support_distance_pct": -5.0,
            "btc_broken_support_usd": 105.0,
            "cascade_count": 1,
        }
        for day in WINDOW.days
    ]


GOOD_ROWS: dict[str, Callable[[], list[dict]]] = {
    "raw_binance__klines": raw_klines,
    "raw_binance__open_interest": raw_open_interest,
    "raw_binance__funding": raw_funding,
    "raw_binance__liquidations": raw_liquidations,
    "raw_binance__collector_coverage_gaps": raw_coverage_gaps,
    "stg_binance__liquidations": stg_liquidations,
    "stg_binance__collector_coverage_gaps": stg_coverage_gaps,
    "stg_binance__open_interest": stg_open_interest,
    "stg_binance__funding": stg_funding,
    "stg_binance__klines": stg_klines,
    "stg_landing__manifests": stg_manifests,
    "liquidations_hourly": liquidations_hourly,
    "liquidations_daily": liquidations_daily,
    "liquidations_weekly": liquidations_weekly,
    "liquidations_monthly": liquidations_monthly,
    "open_interest_daily": open_interest_daily,
    "open_interest_weekly": open_interest_weekly,
    "open_interest_monthly": open_interest_monthly,
    "prices_daily": prices_daily,
    "asset_prices_daily": asset_prices_daily,
    "support_levels": support_levels,
    "contagion_daily": contagion_daily,
    "liquidation_cascades": liquidation_cascades,
    "treasury_holdings_daily": treasury_holdings_daily,
    "market_stress_daily": market_stress_daily,
}


def raw_table(suite_name: str, rows: list[dict]) -> pa.Table:
    """Rows of a raw suite as a table typed by the dataset's pyarrow schema."""
    venue, dataset = suite_name.removeprefix("raw_").split("__", 1)
    return pa.Table.from_pylist(rows, schema=raw_datasets(venue)[dataset][0])


def _rows_of(suite_name: str) -> list[dict]:
    """Valid rows of a suite; staging rows of another venue are Binance's, relabelled (staging
    returns the same columns for every venue)."""
    if suite_name in GOOD_ROWS:
        return GOOD_ROWS[suite_name]()
    venue, _, dataset = suite_name.removeprefix("stg_").partition("__")
    if suite_name.startswith("stg_") and dataset == "instruments":
        return stg_instruments(venue)
    binance = f"stg_binance__{dataset}"
    if not suite_name.startswith("stg_") or binance not in GOOD_ROWS:
        raise KeyError(f"no fixture rows for suite {suite_name}")
    return [{**row, "exchange_id": venue} for row in GOOD_ROWS[binance]()]


@pytest.fixture
def good_rows() -> Callable[[str], list[dict]]:
    """`good_rows(suite_name)`: a fresh copy of valid rows for that suite."""
    return lambda suite_name: copy.deepcopy(_rows_of(suite_name))


@pytest.fixture
def window() -> Window:
    return WINDOW


@pytest.fixture
def validate() -> Callable[..., object]:
    """`validate(suite_name, rows)`: raw rows go through `validate_raw_table` as a typed table;
    staging and mart rows through `validate_frame` as a DataFrame; both with the fixture window."""
    from include.cryptodw.quality import validate_frame, validate_raw_table

    def run(suite_name: str, rows: list[dict], **kwargs: object) -> object:
        if suite_name.startswith("raw_"):
            venue, dataset = suite_name.removeprefix("raw_").split("__", 1)
            table = raw_table(suite_name, rows)
            return validate_raw_table(table, venue, dataset, WINDOW.start, WINDOW.end)
        return validate_frame(
            pd.DataFrame(rows),
            suite_name,
            window_start=WINDOW.start,
            window_end=WINDOW.end,
            **kwargs,
        )

    return run
