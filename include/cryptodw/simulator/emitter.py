"""Publish a simulated market the way Binance does, plus the ground truth behind it.

Per UTC day of the window the emitter writes, under the replay root and at the paths the
`ReplayTransport` reads for archive URLs (`transport.retained_path`):

* daily klines zips for 1d and 1h (candles aggregated from the model's minute bars);
* the daily metrics zip (5-minute open interest, filed by period end: ``00:05 .. 24:00``);
* the monthly fundingRate zip, once a month lies entirely inside the window (Binance publishes
  monthly files after the month);
* the recorded `forceOrder` websocket stream: only the orders the stream pushes (one per
  symbol and second), in hourly segments filed by the day they were received.

Under the truth root it writes parquet per day: every liquidation generated (pushed or not),
the true open interest snapshots, minute bars, funding settlements and a daily summary, plus
`simulation.json` describing the run. The simulated REST API answers from those files.

Everything is a pure function of the model's output: zip entries carry fixed timestamps and
parquet files no clocks, so a rerun writes identical bytes.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from include.cryptodw.assets import KLINE_INTERVALS
from include.cryptodw.simulator import formats
from include.cryptodw.simulator.market import (
    DAY_MS,
    SNAPSHOTS_PER_DAY,
    FundingEvent,
    MarketDay,
    MinuteBars,
    day_start_ms,
)
from include.cryptodw.simulator.presets import SymbolSpec
from include.cryptodw.sources.binance import (
    FORCE_ORDER_STREAM,
    INTERVAL_MS,
    VENUE,
    funding_archive_url,
    kline_archive_url,
    metrics_archive_url,
)
from include.cryptodw.transport import (
    atomic_write_bytes,
    retained_path,
    write_ws_segment,
    ws_segment_dir,
)

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000
WEEK_MS = 7 * DAY_MS
# Binance's weekly candles open on Monday; the epoch (1970-01-01) was a Thursday.
WEEK_OFFSET_MS = 4 * DAY_MS
TRUTH_MANIFEST = "simulation.json"
TRUTH_TABLES = ("liquidations", "open_interest", "minute_bars", "funding", "daily")


# ------------------------------------------------------------------------------ candles


def bars_matrix(bars: MinuteBars) -> np.ndarray:
    """Minute bars as an (n, 10) int64 matrix in `MinuteBars.COLUMNS` order."""
    return np.stack([np.asarray(c, dtype=np.int64) for c in bars.columns()], axis=1)


def candle_start(open_ms: np.ndarray, interval_ms: int) -> np.ndarray:
    """Open time of the candle of `interval_ms` each minute belongs to (weeks start Monday)."""
    offset = WEEK_OFFSET_MS if interval_ms == WEEK_MS else 0
    return (open_ms - offset) // interval_ms * interval_ms + offset


def aggregate_candles(minutes: np.ndarray, interval_ms: int) -> np.ndarray:
    """Candles of `interval_ms` from time-sorted minute rows (both (n, 10) int64 matrices).

    Open is the first minute's open, close the last's, high/low the extremes; volumes, quote
    volumes and trade counts are sums, so every candle is exact in integer units.
    """
    if minutes.shape[0] == 0:
        return minutes.copy()
    starts = candle_start(minutes[:, 0], interval_ms)
    first = np.flatnonzero(np.r_[True, starts[1:] != starts[:-1]])
    last = np.r_[first[1:] - 1, minutes.shape[0] - 1]
    out = np.empty((first.size, minutes.shape[1]), dtype=np.int64)
    out[:, 0] = starts[first]
    out[:, 1] = minutes[first, 1]
    out[:, 2] = np.maximum.reduceat(minutes[:, 2], first)
    out[:, 3] = np.minimum.reduceat(minutes[:, 3], first)
    out[:, 4] = minutes[last, 4]
    out[:, 5:] = np.add.reduceat(minutes[:, 5:], first, axis=0)
    return out


def kline_lines(candles: np.ndarray, interval_ms: int, spec: SymbolSpec) -> list[str]:
    """Archive CSV lines of candles (no header)."""
    return [
        formats.kline_csv_line(
            formats.kline_fields(tuple(row), interval_ms, spec.price_decimals, spec.qty_decimals)
        )
        for row in candles.tolist()
    ]


# --------------------------------------------------------------------------------- files


def deterministic_zip(member: str, text: str, published: datetime) -> bytes:
    """A one-file zip as the archive serves it, with a fixed entry time (reruns: same bytes)."""
    info = zipfile.ZipInfo(member, date_time=published.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = 0o644 << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(info, text.encode())
    return buffer.getvalue()


def csv_text(header: str, lines: list[str]) -> str:
    return "\n".join([header, *lines]) + "\n"


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def truth_path(truth_root: Path, table: str, day: date) -> Path:
    """Where a day of a truth table lives: ``<truth>/<table>/<YYYY-MM-DD>.parquet``."""
    return truth_root / table / f"{day.isoformat()}.parquet"


def _publication_time(period_end: date) -> datetime:
    """Archive files appear after their period; stamp entries at 00:00 UTC the day after."""
    return datetime(period_end.year, period_end.month, period_end.day, tzinfo=UTC)


def _next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


# ------------------------------------------------------------------------------- emitter


@dataclass
class BinanceEmitter:
    """Writes one `MarketDay` at a time; call `finish()` after the last day."""

    replay_root: Path
    truth_root: Path
    specs: tuple[SymbolSpec, ...]
    start: date
    end: date
    files_written: int = 0
    _carried_messages: list[tuple[int, str]] = field(default_factory=list)
    _funding_by_month: dict[date, list[FundingEvent]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def emit(self, market_day: MarketDay) -> None:
        """Archive files, websocket segments and truth tables of one simulated day."""
        day = market_day.day
        for spec in self.specs:
            self._write_klines(spec, day, bars_matrix(market_day.bars[spec.symbol]))
            self._write_metrics(spec, day, market_day)
        self._write_stream(day, market_day)
        self._write_truth(market_day)
        for event in market_day.funding:
            month = datetime.fromtimestamp(event.funding_ms / 1000, tz=UTC).date().replace(day=1)
            self._funding_by_month[month].append(event)
        self._write_complete_months(day + timedelta(days=1))

    def finish(self) -> None:
        """Flush stream messages received after the window's last midnight."""
        by_day: dict[date, list[tuple[int, str]]] = defaultdict(list)
        for received_ms, text in self._carried_messages:
            by_day[_utc_day(received_ms)].append((received_ms, text))
        for day, messages in sorted(by_day.items()):
            self._write_segments(day, messages, all_hours=False)
        self._carried_messages = []

    # ---------------------------------------------------------------------- archive

    def _write_file(self, path: Path, payload: bytes) -> None:
        atomic_write_bytes(path, payload)
        self.files_written += 1

    def _write_klines(self, spec: SymbolSpec, day: date, minutes: np.ndarray) -> None:
        for interval in KLINE_INTERVALS:
            interval_ms = INTERVAL_MS[interval]
            lines = kline_lines(aggregate_candles(minutes, interval_ms), interval_ms, spec)
            url = kline_archive_url(spec.symbol, interval, day)
            member = f"{spec.symbol}-{interval}-{day.isoformat()}.csv"
            payload = deterministic_zip(
                member,
                csv_text(formats.KLINES_HEADER, lines),
                _publication_time(day + timedelta(days=1)),
            )
            self._write_file(retained_path(self.replay_root, url), payload)

    def _write_metrics(self, spec: SymbolSpec, day: date, market_day: MarketDay) -> None:
        """The day's file holds 00:05 .. 24:00; the window's first 00:00 goes to the day before.

        Binance files each 5-minute row under the day its period ends, so the snapshot at a
        window's first midnight is the last row of the previous day's file. The model has no
        market before the window, so that file holds just this one row.
        """
        snapshots = market_day.open_interest[spec.symbol]
        self._write_metrics_file(spec, day, snapshots, range(1, SNAPSHOTS_PER_DAY + 1))
        if day == self.start:
            self._write_metrics_file(spec, day - timedelta(days=1), snapshots, range(0, 1))

    def _write_metrics_file(self, spec: SymbolSpec, day: date, snapshots, rows: range) -> None:
        value_decimals = spec.price_decimals + spec.qty_decimals
        lines = [
            formats.metrics_csv_line(
                spec.symbol,
                int(snapshots.snapshot_ms[i]),
                int(snapshots.oi_units[i]),
                spec.qty_decimals,
                int(snapshots.value_units[i]),
                value_decimals,
                tuple(int(r) for r in snapshots.ratios_e8[i]),
            )
            for i in rows
        ]
        member = f"{spec.symbol}-metrics-{day.isoformat()}.csv"
        payload = deterministic_zip(
            member,
            csv_text(formats.METRICS_HEADER, lines),
            _publication_time(day + timedelta(days=1)),
        )
        self._write_file(
            retained_path(self.replay_root, metrics_archive_url(spec.symbol, day)), payload
        )

    def _write_complete_months(self, through: date) -> None:
        """Monthly funding files of months that lie inside the window and ended by `through`."""
        for month in sorted(self._funding_by_month):
            following = _next_month(month)
            if following > through:
                continue
            events = self._funding_by_month.pop(month)
            if month < self.start or following > self.end:
                continue
            for spec in self.specs:
                self._write_funding_file(spec, month, following, events)

    def _write_funding_file(
        self, spec: SymbolSpec, month: date, following: date, events: list[FundingEvent]
    ) -> None:
        lines = [
            formats.funding_csv_line(e.funding_ms, e.interval_hours, e.rate_e8)
            for e in sorted(events, key=lambda e: e.funding_ms)
            if e.symbol == spec.symbol
        ]
        member = f"{spec.symbol}-fundingRate-{month:%Y-%m}.csv"
        payload = deterministic_zip(
            member, csv_text(formats.FUNDING_HEADER, lines), _publication_time(following)
        )
        self._write_file(
            retained_path(self.replay_root, funding_archive_url(spec.symbol, month)), payload
        )

    # ----------------------------------------------------------------------- stream

    def _write_stream(self, day: date, market_day: MarketDay) -> None:
        """Pushed forceOrder messages, filed by receive day; later days' are carried over."""
        messages = self._carried_messages + force_order_messages(market_day)
        today = [m for m in messages if _utc_day(m[0]) <= day]
        self._carried_messages = [m for m in messages if _utc_day(m[0]) > day]
        self._write_segments(day, today, all_hours=True)

    def _write_segments(self, day: date, messages: list[tuple[int, str]], all_hours: bool) -> None:
        """Hourly segments ``HH00`` in receive order; `all_hours` also writes empty ones.

        The day's directory ends up holding exactly these segments (a rerun over another
        window must not leave an earlier run's messages next to them).
        """
        by_hour: dict[int, list[tuple[int, str]]] = defaultdict(list)
        day_ms = day_start_ms(day)
        for received_ms, text in sorted(messages, key=lambda m: m[0]):
            by_hour[max(0, (received_ms - day_ms) // HOUR_MS)].append((received_ms, text))
        names = {f"{hour:02d}00": by_hour[hour] for hour in (range(24) if all_hours else by_hour)}
        directory = ws_segment_dir(self.replay_root, VENUE, FORCE_ORDER_STREAM, day)
        for stale in directory.glob("*.jsonl.gz"):
            if stale.name.removesuffix(".jsonl.gz") not in names:
                stale.unlink()
        for name, hour_messages in sorted(names.items()):
            write_ws_segment(self.replay_root, VENUE, FORCE_ORDER_STREAM, day, name, hour_messages)
            self.files_written += 1

    # ------------------------------------------------------------------------ truth

    def _write_truth(self, market_day: MarketDay) -> None:
        tables = {
            "liquidations": liquidation_truth(market_day),
            "open_interest": open_interest_truth(market_day),
            "minute_bars": minute_bar_truth(market_day),
            "funding": funding_truth(market_day),
            "daily": daily_truth(market_day),
        }
        for name, table in tables.items():
            self._write_file(
                truth_path(self.truth_root, name, market_day.day), parquet_bytes(table)
            )


def _utc_day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date()


def force_order_messages(market_day: MarketDay) -> list[tuple[int, str]]:
    """(receive time, text) of every pushed forced order of the day."""
    liq, specs = market_day.liquidations, market_day.specs
    messages = []
    for i in np.flatnonzero(liq.pushed).tolist():
        spec = specs[int(liq.symbol_index[i])]
        qty = formats.fixed(int(liq.qty_units[i]), spec.qty_decimals)
        text = formats.force_order_message(
            symbol=spec.symbol,
            order_side="SELL" if liq.is_long[i] else "BUY",
            qty=qty,
            order_price=formats.fixed(int(liq.order_price_units[i]), spec.price_decimals),
            avg_price=formats.fixed(int(liq.avg_price_units[i]), spec.price_decimals),
            last_qty=formats.fixed(int(liq.last_qty_units[i]), spec.qty_decimals),
            event_ms=int(liq.event_ms[i]),
            trade_ms=int(liq.trade_ms[i]),
        )
        messages.append((int(liq.received_ms[i]), text))
    return messages


# ------------------------------------------------------------------------ truth tables


def _scale(specs: tuple[SymbolSpec, ...], index: np.ndarray, attr: str) -> np.ndarray:
    return np.array([10.0 ** -getattr(s, attr) for s in specs])[index]


def liquidation_truth(market_day: MarketDay) -> pa.Table:
    """Every forced order generated, with whether the stream pushed it."""
    liq, specs = market_day.liquidations, market_day.specs
    index = liq.symbol_index
    return pa.table(
        {
            "symbol": pa.array([specs[i].symbol for i in index.tolist()], pa.string()),
            "trade_time_ms": pa.array(liq.trade_ms, pa.int64()),
            "event_time_ms": pa.array(liq.event_ms, pa.int64()),
            "received_at_ms": pa.array(liq.received_ms, pa.int64()),
            "order_side": pa.array(np.where(liq.is_long, "SELL", "BUY").tolist(), pa.string()),
            "position_side": pa.array(np.where(liq.is_long, "LONG", "SHORT").tolist(), pa.string()),
            "qty_base": pa.array(
                liq.qty_units * _scale(specs, index, "qty_decimals"), pa.float64()
            ),
            "avg_price": pa.array(
                liq.avg_price_units * _scale(specs, index, "price_decimals"), pa.float64()
            ),
            "order_price": pa.array(
                liq.order_price_units * _scale(specs, index, "price_decimals"), pa.float64()
            ),
            "notional_usd": pa.array(liq.notional_usd(specs), pa.float64()),
            "pushed": pa.array(liq.pushed, pa.bool_()),
        }
    )


def open_interest_truth(market_day: MarketDay) -> pa.Table:
    """The 288 snapshots taken on the day (00:00 .. 23:55) per symbol, units and values."""
    columns: dict[str, list] = defaultdict(list)
    rows = slice(0, SNAPSHOTS_PER_DAY)
    for spec in market_day.specs:
        snap = market_day.open_interest[spec.symbol]
        n = snap.snapshot_ms[rows].size
        value_scale = 10.0 ** -(spec.price_decimals + spec.qty_decimals)
        columns["symbol"] += [spec.symbol] * n
        columns["snapshot_ms"] += snap.snapshot_ms[rows].tolist()
        columns["oi_units"] += snap.oi_units[rows].tolist()
        columns["mark_units"] += snap.mark_units[rows].tolist()
        columns["value_units"] += snap.value_units[rows].tolist()
        columns["open_interest_base"] += (snap.oi_units[rows] * 10.0**-spec.qty_decimals).tolist()
        columns["open_interest_usd"] += (snap.value_units[rows] * value_scale).tolist()
        columns["leveraged_long_base"] += snap.leveraged_long[rows].tolist()
        columns["leveraged_short_base"] += snap.leveraged_short[rows].tolist()
    types = {
        "symbol": pa.string(),
        "open_interest_base": pa.float64(),
        "open_interest_usd": pa.float64(),
        "leveraged_long_base": pa.float64(),
        "leveraged_short_base": pa.float64(),
    }
    return pa.table({k: pa.array(v, types.get(k, pa.int64())) for k, v in columns.items()})


def minute_bar_truth(market_day: MarketDay) -> pa.Table:
    """Minute candles in integer units (the source of every kline the API serves)."""
    columns: dict[str, list] = defaultdict(list)
    for spec in market_day.specs:
        bars = market_day.bars[spec.symbol]
        columns["symbol"] += [spec.symbol] * bars.open_ms.size
        for name, values in zip(MinuteBars.COLUMNS, bars.columns(), strict=True):
            columns[name] += np.asarray(values, dtype=np.int64).tolist()
    return pa.table(
        {k: pa.array(v, pa.string() if k == "symbol" else pa.int64()) for k, v in columns.items()}
    )


def funding_truth(market_day: MarketDay) -> pa.Table:
    events = market_day.funding
    return pa.table(
        {
            "symbol": pa.array([e.symbol for e in events], pa.string()),
            "funding_time_ms": pa.array([e.funding_ms for e in events], pa.int64()),
            "rate_e8": pa.array([e.rate_e8 for e in events], pa.int64()),
            "mark_price": pa.array([e.mark_price for e in events], pa.float64()),
            "interval_hours": pa.array([e.interval_hours for e in events], pa.int64()),
        }
    )


def daily_truth(market_day: MarketDay) -> pa.Table:
    """Per symbol: the day's candle, closing open interest and liquidated notional by side."""
    liq, specs = market_day.liquidations, market_day.specs
    notional = liq.notional_usd(specs)
    columns: dict[str, list] = defaultdict(list)
    for s, spec in enumerate(specs):
        bars = market_day.bars[spec.symbol]
        snap = market_day.open_interest[spec.symbol]
        price_scale = 10.0**-spec.price_decimals
        mine = liq.symbol_index == s
        columns["symbol"].append(spec.symbol)
        columns["phase"].append(market_day.phase)
        columns["open"].append(int(bars.open[0]) * price_scale)
        columns["high"].append(int(bars.high.max()) * price_scale)
        columns["low"].append(int(bars.low.min()) * price_scale)
        columns["close"].append(int(bars.close[-1]) * price_scale)
        columns["close_open_interest_base"].append(
            int(snap.oi_units[-1]) * 10.0**-spec.qty_decimals
        )
        columns["close_open_interest_usd"].append(
            int(snap.value_units[-1]) * 10.0 ** -(spec.price_decimals + spec.qty_decimals)
        )
        for side, is_long in (("long", True), ("short", False)):
            chosen = mine & (liq.is_long == is_long)
            columns[f"{side}_liquidated_usd"].append(float(notional[chosen].sum()))
            columns[f"{side}_liquidated_pushed_usd"].append(
                float(notional[chosen & liq.pushed].sum())
            )
            columns[f"{side}_liquidation_orders"].append(int(chosen.sum()))
    table = pa.table(dict(columns))
    day = pa.array([market_day.day] * len(specs), pa.date32())
    return table.add_column(0, "day", day)


def write_manifest(truth_root: Path, manifest: dict) -> None:
    """`simulation.json`: what was simulated (the API serves only this window)."""
    payload = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
    atomic_write_bytes(truth_root / TRUTH_MANIFEST, payload)


def spec_record(spec: SymbolSpec) -> dict:
    return {
        "symbol": spec.symbol,
        "price_decimals": spec.price_decimals,
        "qty_decimals": spec.qty_decimals,
        "tick_units": spec.tick_units,
        "circulating_supply": spec.circulating_supply,
    }
