"""A small handcrafted Binance lake, landed with the real writer (lake/writer.land_records).

The inputs are plain Python records with simple arithmetic, so the tests can compute every mart
figure they check on their own, without the warehouse's SQL. 40 UTC days from Monday
2024-01-01: January is a complete month and Jan 1 .. Feb 4 five complete ISO weeks; February
and the week of Feb 5 are partial. Built in two windows (January, then Feb 1-9) to exercise the
incremental facts. Deliberate quirks, each with an expected outcome:

- SOLUSDT open interest: no snapshot on Jan 20 (an empty day file), and only the morning
  (00:00-11:55) on Jan 10;
- BTCUSDT open interest on Jan 15 12:00 is present twice, from two payloads (same values);
- the liquidation stream re-sends one event on Jan 5 (another receive time and segment), has a
  zero-fill event on Jan 6, and no liquidation at all on Jan 25 (a captured, empty day);
- SOLUSDT candles of Feb 9 were fetched at 12:00 that day: its daily candle is still open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from include.cryptodw.lake.writer import SourcePayload, land_records
from include.cryptodw.schemas import FUNDING, KLINES, LIQUIDATIONS, OPEN_INTEREST
from include.cryptodw.settings import Settings
from include.cryptodw.windows import Window

VENUE = "binance"
FIRST_DAY = date(2024, 1, 1)
LAST_DAY = date(2024, 2, 9)
JANUARY = Window(date(2024, 1, 1), date(2024, 2, 1))
FEBRUARY = Window(date(2024, 2, 1), date(2024, 2, 10))
# symbol -> (base asset, price level in USDT, open interest level in coin)
SYMBOLS = {
    "BTCUSDT": ("BTC", 40_000.0, 80_000.0),
    "ETHUSDT": ("ETH", 2_000.0, 1_500_000.0),
    "SOLUSDT": ("SOL", 100.0, 20_000_000.0),
}
SNAPSHOTS_PER_DAY = 288
OI_MISSING_DAY = ("SOLUSDT", date(2024, 1, 20))
OI_MORNING_ONLY_DAY = ("SOLUSDT", date(2024, 1, 10))
OI_DUPLICATED_SNAPSHOT = ("BTCUSDT", datetime(2024, 1, 15, 12, 0))
RESENT_LIQUIDATION_DAY = date(2024, 1, 5)
ZERO_FILL_DAY = date(2024, 1, 6)
NO_LIQUIDATION_DAY = date(2024, 1, 25)
OPEN_CANDLE = ("SOLUSDT", LAST_DAY, datetime(2024, 2, 9, 12, 0))
# A day the bad-rows scenario lands again, with a negative quantity and a conflicting snapshot.
BAD_DAY = Window(date(2024, 1, 12), date(2024, 1, 13))


@dataclass(frozen=True)
class Lake:
    """The handcrafted records, per raw dataset, exactly as landed (raw schema dicts)."""

    klines: list[dict]
    open_interest: list[dict]
    funding: list[dict]
    liquidations: list[dict]
    # (symbol, interval) -> when its candles were fetched, per window
    fetched_at: dict[tuple[str, str, Window], datetime]


def all_days() -> list[date]:
    return [FIRST_DAY + timedelta(days=i) for i in range((LAST_DAY - FIRST_DAY).days + 1)]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())


def daily_close(symbol: str, day_index: int) -> float:
    """A close that moves by -5 % .. +5 % of the price level, day to day, deterministically."""
    rank = list(SYMBOLS).index(symbol)
    level = SYMBOLS[symbol][1]
    return level * (1 + 0.01 * ((day_index * 7 + rank * 3) % 11 - 5))


def kline_records() -> list[dict]:
    rows = []
    for index, day in enumerate(all_days()):
        for rank, symbol in enumerate(SYMBOLS):
            close = daily_close(symbol, index)
            open_ = daily_close(symbol, index - 1) if index else SYMBOLS[symbol][1]
            volume = 1_000.0 + 10 * index + 100 * rank
            rows.append(
                _kline(symbol, "1d", _midnight(day), timedelta(days=1), open_, close, volume)
            )
            for hour in range(24):
                start = _midnight(day) + timedelta(hours=hour)
                rows.append(
                    _kline(symbol, "1h", start, timedelta(hours=1), close, close, volume / 24)
                )
    return rows


def _kline(symbol, interval, open_time, length, open_, close, volume) -> dict:
    return {
        "symbol": symbol,
        "interval": interval,
        "open_time": open_time,
        "close_time": open_time + length - timedelta(milliseconds=1),
        "open_price": open_,
        "high_price": max(open_, close) * 1.01,
        "low_price": min(open_, close) * 0.99,
        "close_price": close,
        "volume_base": volume,
        "volume_quote": volume * (open_ + close) / 2,
        "trade_count": int(volume),
        "taker_buy_volume_base": volume / 2,
        "taker_buy_volume_quote": volume * close / 2,
        "_source": f"archive:{symbol}-{interval}-{open_time:%Y-%m-%d}.zip",
    }


def open_interest_records() -> list[dict]:
    rows = []
    for index, day in enumerate(all_days()):
        for rank, symbol in enumerate(SYMBOLS):
            if (symbol, day) == OI_MISSING_DAY:
                continue
            snapshots = (
                SNAPSHOTS_PER_DAY // 2
                if (symbol, day) == OI_MORNING_ONLY_DAY
                else SNAPSHOTS_PER_DAY
            )
            level = SYMBOLS[symbol][2] * (1 + 0.002 * index)
            price = daily_close(symbol, index)
            for i in range(snapshots):
                coin = level + ((i * 37 + rank * 11) % 101) * level / 1_000
                rows.append(
                    {
                        "symbol": symbol,
                        "snapshot_at": _midnight(day) + timedelta(minutes=5 * i),
                        "open_interest_base": coin,
                        "open_interest_quote": coin * price,
                        "_source": f"archive:{symbol}-metrics-{day}.zip",
                    }
                )
    duplicate = next(r for r in rows if (r["symbol"], r["snapshot_at"]) == OI_DUPLICATED_SNAPSHOT)
    rows.append({**duplicate, "_source": "rest:/futures/data/openInterestHist?page=1"})
    return rows


def funding_records() -> list[dict]:
    rows = []
    for index, day in enumerate(all_days()):
        for rank, symbol in enumerate(SYMBOLS):
            for hour in (0, 8, 16):
                rows.append(
                    {
                        "symbol": symbol,
                        "funding_time": _midnight(day) + timedelta(hours=hour),
                        "funding_rate": 0.0001 * ((index + rank + hour) % 5 - 1),
                        "funding_interval_hours": 8,
                        "mark_price": None,
                        "_source": f"archive:{symbol}-fundingRate-{day:%Y-%m}.zip",
                    }
                )
    return rows


def liquidation_records() -> list[dict]:
    """0-3 liquidations per symbol and day; SELL orders liquidate longs."""
    rows = []
    for index, day in enumerate(all_days()):
        if day == NO_LIQUIDATION_DAY:
            continue
        for rank, symbol in enumerate(SYMBOLS):
            for j in range((index + rank) % 4):
                qty = round(0.5 * (j + 1) * (rank + 1) * (1 + index % 3), 6)
                price = daily_close(symbol, index) * (1 - 0.001 * j)
                at = _midnight(day) + timedelta(hours=j + 1, minutes=7 * rank, seconds=index)
                side = "BUY" if (index + j + rank) % 3 == 0 else "SELL"
                rows.append(_liquidation(symbol, side, "FILLED", qty, qty, price, at, "seg-0"))
    resent = next(r for r in rows if r["trade_time"].date() == RESENT_LIQUIDATION_DAY)
    rows.append(
        {**resent, "received_at": resent["received_at"] + timedelta(seconds=30), "_source": "seg-1"}
    )
    zero_fill_at = _midnight(ZERO_FILL_DAY) + timedelta(hours=20)
    rows.append(
        _liquidation("BTCUSDT", "SELL", "EXPIRED", 1.0, 0.0, 39_000.0, zero_fill_at, "seg-0")
    )
    return rows


def _liquidation(symbol, side, status, qty, filled, price, at, segment) -> dict:
    return {
        "symbol": symbol,
        "order_side": side,
        "order_type": "LIMIT",
        "time_in_force": "IOC",
        "order_status": status,
        "original_qty": qty,
        "last_filled_qty": filled,
        "filled_qty": filled,
        "order_price": price * 0.995,
        "avg_price": price,
        "trade_time": at,
        "event_time": at + timedelta(milliseconds=5),
        "received_at": at + timedelta(milliseconds=40),
        "_source": f"ws:forceOrder/{segment}/{at:%Y-%m-%d}",
    }


def kline_fetch_times() -> dict[tuple[str, str, Window], datetime]:
    """Every candle fetched after the window, except the open SOLUSDT candles of Feb 9."""
    times = {}
    for window in (JANUARY, FEBRUARY):
        for symbol in SYMBOLS:
            for interval in ("1d", "1h"):
                times[(symbol, interval, window)] = _midnight(window.end) + timedelta(hours=1)
    symbol, _, fetched = OPEN_CANDLE
    for interval in ("1d", "1h"):
        times[(symbol, interval, FEBRUARY)] = fetched
    return times


def make_lake() -> Lake:
    return Lake(
        klines=kline_records(),
        open_interest=open_interest_records(),
        funding=funding_records(),
        liquidations=liquidation_records(),
        fetched_at=kline_fetch_times(),
    )


def _in_window(rows: list[dict], column: str, window: Window) -> list[dict]:
    start, end = _midnight(window.start), _midnight(window.end)
    return [r for r in rows if start <= r[column] < end]


def _land(settings: Settings, dataset, schema, rows, part, window, fetched_at) -> None:
    """One fetch of the window (a payload every day lists, rows or not) and the archives its
    rows name, all fetched at `fetched_at`."""
    uris = [f"test://{dataset}/{part}/{window.start}", *sorted({r["_source"] for r in rows})]
    fetched = fetched_at.isoformat() + "+00:00"
    land_records(
        pa.Table.from_pylist(rows, schema=schema),
        raw_dir=settings.raw_dir,
        manifest_dir=settings.manifest_dir,
        venue=VENUE,
        dataset=dataset,
        part=part,
        window_start=window.start,
        window_end=window.end,
        sources=[SourcePayload(uri, "0" * 64, fetched) for uri in uris],
    )


def land_window(settings: Settings, lake: Lake, window: Window) -> None:
    """Land every dataset and part of `window`, as the ingest DAG would."""
    after_window = _midnight(window.end) + timedelta(hours=1)
    for symbol in SYMBOLS:
        for interval in ("1d", "1h"):
            rows = [
                r
                for r in _in_window(lake.klines, "open_time", window)
                if r["symbol"] == symbol and r["interval"] == interval
            ]
            fetched = lake.fetched_at[(symbol, interval, window)]
            _land(settings, "klines", KLINES, rows, f"{symbol}-{interval}", window, fetched)
        for dataset, schema, records, column in (
            ("open_interest", OPEN_INTEREST, lake.open_interest, "snapshot_at"),
            ("funding", FUNDING, lake.funding, "funding_time"),
        ):
            rows = [r for r in _in_window(records, column, window) if r["symbol"] == symbol]
            _land(settings, dataset, schema, rows, symbol, window, after_window)
    rows = _in_window(lake.liquidations, "trade_time", window)
    _land(settings, "liquidations", LIQUIDATIONS, rows, "all", window, after_window)


def land_bad_rows(settings: Settings, lake: Lake) -> None:
    """Re-land BAD_DAY with a liquidation of negative filled quantity (a parser bug upstream)
    and a BTCUSDT snapshot that a second payload reports with a different open interest."""
    liquidations = _in_window(lake.liquidations, "trade_time", BAD_DAY)
    negative = {
        **liquidations[0],
        "filled_qty": -liquidations[0]["filled_qty"],
        "_source": "seg-bad",
    }
    after_window = _midnight(BAD_DAY.end) + timedelta(hours=1)
    _land(
        settings,
        "liquidations",
        LIQUIDATIONS,
        [*liquidations, negative],
        "all",
        BAD_DAY,
        after_window,
    )
    snapshots = [
        r
        for r in _in_window(lake.open_interest, "snapshot_at", BAD_DAY)
        if r["symbol"] == "BTCUSDT"
    ]
    conflicting = {
        **snapshots[0],
        "open_interest_base": snapshots[0]["open_interest_base"] * 1.5,
        "_source": "rest:/futures/data/openInterestHist?page=9",
    }
    _land(
        settings,
        "open_interest",
        OPEN_INTEREST,
        [*snapshots, conflicting],
        "BTCUSDT",
        BAD_DAY,
        after_window,
    )


def make_settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir, source_mode="replay", symbols=tuple(SYMBOLS), venues=(VENUE,)
    )
