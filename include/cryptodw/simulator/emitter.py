"""Publish Binance's share of a simulated market the way Binance does.

Per UTC day of the window the emitter writes, under the replay root and at the paths the
`ReplayTransport` reads for archive URLs (`transport.retained_path`):

* daily klines zips for 1d and 1h (candles aggregated from the model's minute bars);
* the daily metrics zip (5-minute open interest, filed by period end: ``00:05 .. 24:00``);
* the monthly fundingRate zip, once a month lies entirely inside the window (Binance publishes
  monthly files after the month);
* the recorded `forceOrder` websocket stream: only the orders the stream pushes (one per
  symbol and second), in hourly segments filed by the day they were received
  (`StreamRecorder`, which the Bybit and OKX streams use too).

Everything is a pure function of the model's output: zip entries carry fixed timestamps, so a
rerun writes identical bytes. Rows and messages are formatted a column at a time
(`columns`), the same characters as the per-value `formats` functions.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from include.cryptodw.assets import KLINE_INTERVALS
from include.cryptodw.simulator import columns, formats
from include.cryptodw.simulator.columns import Messages
from include.cryptodw.simulator.market import (
    DAY_MS,
    SNAPSHOTS_PER_DAY,
    FundingEvent,
    MarketDay,
    MinuteBars,
    VenueDay,
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
from include.cryptodw.transport import retained_path, ws_segment_dir

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000
WEEK_MS = 7 * DAY_MS
# Binance's weekly candles open on Monday; the epoch (1970-01-01) was a Thursday.
WEEK_OFFSET_MS = 4 * DAY_MS


# ------------------------------------------------------------------------------ candles


def bars_matrix(bars: MinuteBars) -> np.ndarray:
    """Minute bars as an (n, 10) int64 matrix in `MinuteBars.COLUMNS` order."""
    return np.stack([np.asarray(c, dtype=np.int64) for c in bars.columns()], axis=1)


def candle_start(open_ms: np.ndarray, interval_ms: int, offset_ms: int | None = None) -> np.ndarray:
    """Open time of the candle of `interval_ms` each minute belongs to.

    Candles are aligned to UTC midnight shifted by `offset_ms` (OKX's non-UTC bars open at
    16:00 UTC, midnight in Hong Kong); by default weeks start on Monday, as on Binance.
    """
    if offset_ms is None:
        offset_ms = WEEK_OFFSET_MS if interval_ms == WEEK_MS else 0
    return (open_ms - offset_ms) // interval_ms * interval_ms + offset_ms


def aggregate_candles(
    minutes: np.ndarray, interval_ms: int, offset_ms: int | None = None
) -> np.ndarray:
    """Candles of `interval_ms` from time-sorted minute rows (both (n, 10) int64 matrices).

    Open is the first minute's open, close the last's, high/low the extremes; volumes, quote
    volumes and trade counts are sums, so every candle is exact in integer units.
    """
    if minutes.shape[0] == 0:
        return minutes.copy()
    starts = candle_start(minutes[:, 0], interval_ms, offset_ms)
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


def kline_lines(candles: np.ndarray, interval_ms: int, spec: SymbolSpec) -> pa.Array:
    """Archive CSV lines of candles (no header, no newline): `formats.kline_fields` per row."""
    price, qty = spec.price_decimals, spec.qty_decimals
    return columns.join(
        *_comma_separated(
            columns.ints(candles[:, 0]),
            *(columns.fixed(candles[:, c], price) for c in (1, 2, 3, 4)),
            columns.fixed(candles[:, 5], qty),
            columns.ints(candles[:, 0] + interval_ms - 1),
            columns.fixed(candles[:, 6], price + qty),
            columns.ints(candles[:, 7]),
            columns.fixed(candles[:, 8], qty),
            columns.fixed(candles[:, 9], price + qty),
            "0",
        )
    )


def _comma_separated(*fields: pa.Array | str) -> list[pa.Array | str]:
    parts: list[pa.Array | str] = []
    for field_ in fields:
        parts += [",", field_] if parts else [field_]
    return parts


# --------------------------------------------------------------------------------- files


def deterministic_zip(member: str, text: str | bytes, published: datetime) -> bytes:
    """A one-file zip as the archive serves it, with a fixed entry time (reruns: same bytes)."""
    info = zipfile.ZipInfo(member, date_time=published.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = 0o644 << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(info, text.encode() if isinstance(text, str) else text)
    return buffer.getvalue()


def csv_text(header: str, lines: list[str]) -> str:
    return "\n".join([header, *lines]) + "\n"


def csv_bytes(header: str, lines: pa.Array) -> bytes:
    """`csv_text` of a column of lines, as UTF-8."""
    body = columns.concatenated(columns.join(lines, "\n"), 0, len(lines))
    return f"{header}\n".encode() + body


def write_file(path: Path, payload: bytes) -> None:
    """Write via a temp file and rename: readers never see half a file.

    No fsync: a simulation is a pure function of its seed, rebuilt rather than recovered, and
    syncing each of a long run's hundreds of thousands of files was a fifth of its time.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(payload)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def segment_bytes_per_row(messages: Messages) -> pa.Array:
    """Each message's line of a recorded segment, as `transport.write_ws_segment` writes it."""
    return columns.join(
        '{"recv_ts": ',
        columns.ints(messages.received_ms),
        ', "data": "',
        columns.json_string_body(messages.texts),
        '"}\n',
    )


def _publication_time(period_end: date) -> datetime:
    """Archive files appear after their period; stamp entries at 00:00 UTC the day after."""
    return datetime(period_end.year, period_end.month, period_end.day, tzinfo=UTC)


def _next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


# ------------------------------------------------------------------------------- streams


@dataclass
class StreamRecorder:
    """One venue's recorded websocket stream, as a recorder running through the window files it.

    Messages go to hourly segments ``HH00`` of the UTC day they were RECEIVED, in receive
    order; a message received after the day being written is carried to the next.
    """

    replay_root: Path
    venue: str
    stream: str
    files_written: int = 0
    _carried: Messages = field(default_factory=Messages.empty)

    def record(self, day: date, messages: Messages) -> None:
        """File the messages of the events of `day` (all 24 hours written)."""
        messages = self._carried.then(messages)
        later = messages.received_ms >= day_start_ms(day + timedelta(days=1))
        self._carried = messages.take(np.flatnonzero(later))
        self._write_segments(day, messages.take(np.flatnonzero(~later)), all_hours=True)

    def finish(self) -> None:
        """Flush messages received after the window's last midnight."""
        carried, self._carried = self._carried, Messages.empty()
        days = carried.received_ms // DAY_MS
        for day_index in np.unique(days).tolist():
            day = date(1970, 1, 1) + timedelta(days=day_index)
            self._write_segments(day, carried.take(np.flatnonzero(days == day_index)), False)

    def _write_segments(self, day: date, messages: Messages, all_hours: bool) -> None:
        """Hourly segments in receive order; `all_hours` also writes empty ones.

        The day's directory ends up holding exactly these segments (a rerun over another
        window must not leave an earlier run's messages next to them).
        """
        messages = messages.take(np.argsort(messages.received_ms, kind="stable"))
        hours = np.maximum(0, (messages.received_ms - day_start_ms(day)) // HOUR_MS)
        present = np.unique(hours).tolist()
        names = {f"{hour:02d}00": hour for hour in (range(24) if all_hours else present)}
        directory = ws_segment_dir(self.replay_root, self.venue, self.stream, day)
        for stale in directory.glob("*.jsonl.gz"):
            if stale.name.removesuffix(".jsonl.gz") not in names:
                stale.unlink()
        lines = segment_bytes_per_row(messages)
        for name, hour in sorted(names.items()):
            first, stop = np.searchsorted(hours, [hour, hour + 1])
            content = columns.concatenated(lines, int(first), int(stop))
            payload = gzip.compress(content, compresslevel=6, mtime=0)
            write_file(directory / f"{name}.jsonl.gz", payload)
            self.files_written += 1


# ------------------------------------------------------------------------------- emitter


@dataclass
class BinanceEmitter:
    """Writes Binance's share of one `MarketDay` at a time; call `finish()` after the last day."""

    replay_root: Path
    specs: tuple[SymbolSpec, ...]
    start: date
    end: date
    files_written: int = 0
    _funding_by_month: dict[date, list[FundingEvent]] = field(
        default_factory=lambda: defaultdict(list)
    )
    _stream: StreamRecorder = field(init=False)

    def __post_init__(self) -> None:
        self._stream = StreamRecorder(self.replay_root, VENUE, FORCE_ORDER_STREAM)

    def emit(self, market_day: MarketDay) -> None:
        """Archive files and websocket segments of one simulated day."""
        day, venue_day = market_day.day, market_day.venues[VENUE]
        for spec in self.specs:
            self._write_klines(spec, day, bars_matrix(venue_day.bars[spec.symbol]))
            self._write_metrics(spec, day, venue_day)
        self._stream.record(day, force_order_messages(venue_day, self.specs))
        for event in venue_day.funding:
            month = datetime.fromtimestamp(event.funding_ms / 1000, tz=UTC).date().replace(day=1)
            self._funding_by_month[month].append(event)
        self._write_complete_months(day + timedelta(days=1))

    def finish(self) -> None:
        """Flush stream messages received after the window's last midnight."""
        self._stream.finish()

    @property
    def files(self) -> int:
        return self.files_written + self._stream.files_written

    # ---------------------------------------------------------------------- archive

    def _write_file(self, path: Path, payload: bytes) -> None:
        write_file(path, payload)
        self.files_written += 1

    def _write_klines(self, spec: SymbolSpec, day: date, minutes: np.ndarray) -> None:
        for interval in KLINE_INTERVALS:
            interval_ms = INTERVAL_MS[interval]
            lines = kline_lines(aggregate_candles(minutes, interval_ms), interval_ms, spec)
            url = kline_archive_url(spec.symbol, interval, day)
            member = f"{spec.symbol}-{interval}-{day.isoformat()}.csv"
            payload = deterministic_zip(
                member,
                csv_bytes(formats.KLINES_HEADER, lines),
                _publication_time(day + timedelta(days=1)),
            )
            self._write_file(retained_path(self.replay_root, url), payload)

    def _write_metrics(self, spec: SymbolSpec, day: date, venue_day: VenueDay) -> None:
        """The day's file holds 00:05 .. 24:00; the window's first 00:00 goes to the day before.

        Binance files each 5-minute row under the day its period ends, so the snapshot at a
        window's first midnight is the last row of the previous day's file. The model has no
        market before the window, so that file holds just this one row.
        """
        snapshots = venue_day.open_interest[spec.symbol]
        self._write_metrics_file(spec, day, snapshots, range(1, SNAPSHOTS_PER_DAY + 1))
        if day == self.start:
            self._write_metrics_file(spec, day - timedelta(days=1), snapshots, range(0, 1))

    def _write_metrics_file(self, spec: SymbolSpec, day: date, snapshots, rows: range) -> None:
        picked = np.arange(rows.start, rows.stop)
        member = f"{spec.symbol}-metrics-{day.isoformat()}.csv"
        payload = deterministic_zip(
            member,
            csv_bytes(formats.METRICS_HEADER, metrics_lines(spec, snapshots, picked)),
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


def metrics_lines(spec: SymbolSpec, snapshots, rows: np.ndarray) -> pa.Array:
    """`formats.metrics_csv_line` of the chosen 5-minute snapshots."""
    seconds = snapshots.snapshot_ms[rows].astype("datetime64[ms]").astype("datetime64[s]")
    created = np.char.replace(np.datetime_as_string(seconds), "T", " ")
    ratios = snapshots.ratios_e8[rows]
    return columns.join(
        *_comma_separated(
            pa.array(created.astype(object), pa.string()),
            spec.symbol,
            columns.fixed(snapshots.oi_units[rows], spec.qty_decimals, formats.METRICS_DECIMALS),
            columns.fixed(
                snapshots.value_units[rows],
                spec.price_decimals + spec.qty_decimals,
                formats.METRICS_DECIMALS,
            ),
            *(columns.fixed(ratios[:, r], formats.RATE_DECIMALS) for r in range(4)),
        )
    )


def force_order_messages(venue_day: VenueDay, specs: tuple[SymbolSpec, ...]) -> Messages:
    """Every forced order of the day Binance's stream pushed (`formats.force_order_message`)."""
    liq = venue_day.liquidations
    rows = np.flatnonzero(liq.pushed)
    index = liq.symbol_index[rows]
    price = np.array([s.price_decimals for s in specs], dtype=np.int64)[index]
    qty_decimals = np.array([s.qty_decimals for s in specs], dtype=np.int64)[index]
    symbols = pa.array([columns.plain_name(s.symbol) for s in specs], pa.string())
    qty = columns.fixed(liq.qty_units[rows], qty_decimals)
    text = columns.join(
        '{"e":"forceOrder","E":',
        columns.ints(liq.event_ms[rows]),
        ',"o":{"s":"',
        symbols.take(pa.array(index, pa.int64())),
        '","S":"',
        columns.choose(liq.is_long[rows], "SELL", "BUY"),
        '","o":"LIMIT","f":"IOC","q":"',
        qty,
        '","p":"',
        columns.fixed(liq.order_price_units[rows], price),
        '","ap":"',
        columns.fixed(liq.avg_price_units[rows], price),
        '","X":"FILLED","l":"',
        columns.fixed(liq.last_qty_units[rows], qty_decimals),
        '","z":"',
        qty,
        '","T":',
        columns.ints(liq.trade_ms[rows]),
        "}}",
    )
    return Messages(liq.received_ms[rows].astype(np.int64), text)
