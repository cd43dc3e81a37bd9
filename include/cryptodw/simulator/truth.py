"""The ground truth of a simulation, per venue: what happened, not what was published.

Under the truth root, parquet per table and UTC day (``<truth>/<table>/<YYYY-MM-DD>.parquet``),
every row tagged with its `venue`: every liquidation generated (whether a stream pushed it or
not), the 5-minute open interest, minute bars in integer units, funding settlements and a daily
summary per venue and symbol; plus `simulation.json` describing the run (window, symbols,
venues and each venue's contracts). The simulated REST APIs answer from these files
(`TruthStore`); tests compare what the connectors read with them.

Parquet files carry no clocks, so a rerun writes identical bytes.
"""

from __future__ import annotations

import functools
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from include.cryptodw.simulator.emitter import aggregate_candles, candle_start, write_file
from include.cryptodw.simulator.market import (
    FUNDING_HOURS,
    SNAPSHOTS_PER_DAY,
    MarketDay,
    MinuteBars,
    VenueDay,
)
from include.cryptodw.simulator.presets import SymbolSpec
from include.cryptodw.transport import TransportError

TRUTH_MANIFEST = "simulation.json"
TRUTH_TABLES = ("liquidations", "open_interest", "minute_bars", "funding", "daily")
EPOCH = date(1970, 1, 1)
DAY_MS = 86_400_000
# Day files (table x day x venue) kept in memory: a month of one table of one venue, and more.
DAY_FILES_KEPT = 64
FUNDING_STEP_MS = FUNDING_HOURS * 3_600_000  # between two settlements of a symbol's truth


def truth_path(truth_root: Path, table: str, day: date) -> Path:
    """Where a day of a truth table lives: ``<truth>/<table>/<YYYY-MM-DD>.parquet``."""
    return truth_root / table / f"{day.isoformat()}.parquet"


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def write_truth_day(truth_root: Path, market_day: MarketDay) -> int:
    """Write the day's truth tables (every venue's rows together); returns the files written."""
    builders = {
        "liquidations": liquidation_truth,
        "open_interest": open_interest_truth,
        "minute_bars": minute_bar_truth,
        "funding": funding_truth,
        "daily": daily_truth,
    }
    for name, build in builders.items():
        tables = [build(venue_day, market_day) for venue_day in market_day.venues.values()]
        write_file(
            truth_path(truth_root, name, market_day.day), parquet_bytes(pa.concat_tables(tables))
        )
    return len(builders)


def write_manifest(truth_root: Path, manifest: dict) -> None:
    """`simulation.json`: what was simulated (the APIs serve only this window and these venues)."""
    payload = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
    write_file(truth_root / TRUTH_MANIFEST, payload)


def spec_record(spec: SymbolSpec) -> dict:
    return {
        "symbol": spec.symbol,
        "price_decimals": spec.price_decimals,
        "qty_decimals": spec.qty_decimals,
        "tick_units": spec.tick_units,
        "circulating_supply": spec.circulating_supply,
    }


# ------------------------------------------------------------------------------- tables


def _venue_column(venue_day: VenueDay, n: int) -> pa.Array:
    return pa.array([venue_day.venue] * n, pa.string())


def liquidation_truth(venue_day: VenueDay, market_day: MarketDay) -> pa.Table:
    """Every forced order the venue generated, in its units, with whether its stream pushed it."""
    liq, specs = venue_day.liquidations, market_day.specs
    index = liq.symbol_index
    price_scale = np.array([10.0**-s.price_decimals for s in specs])[index]
    instrument = [venue_day.contracts[i].instrument for i in index.tolist()]
    return pa.table(
        {
            "venue": _venue_column(venue_day, len(liq)),
            "symbol": pa.array([specs[i].symbol for i in index.tolist()], pa.string()),
            "instrument": pa.array(instrument, pa.string()),
            "trade_time_ms": pa.array(liq.trade_ms, pa.int64()),
            "event_time_ms": pa.array(liq.event_ms, pa.int64()),
            "received_at_ms": pa.array(liq.received_ms, pa.int64()),
            "order_side": pa.array(np.where(liq.is_long, "SELL", "BUY").tolist(), pa.string()),
            "position_side": pa.array(np.where(liq.is_long, "LONG", "SHORT").tolist(), pa.string()),
            "net_mode": pa.array(liq.net_mode, pa.bool_()),
            "qty_units": pa.array(liq.qty_units, pa.int64()),  # the venue's units (OKX: contracts)
            "qty_base": pa.array(liq.qty_base(), pa.float64()),
            "avg_price": pa.array(liq.avg_price_units * price_scale, pa.float64()),
            "order_price": pa.array(liq.order_price_units * price_scale, pa.float64()),
            "order_price_units": pa.array(liq.order_price_units, pa.int64()),
            "notional_usd": pa.array(liq.notional_usd(specs), pa.float64()),
            "bankruptcy_notional_usd": pa.array(liq.bankruptcy_notional_usd(specs), pa.float64()),
            "pushed": pa.array(liq.pushed, pa.bool_()),
        }
    )


def _names(name: str, counts: list[int]) -> pa.Array:
    return pa.array([name] * sum(counts), pa.string())


def _symbols(specs: tuple[SymbolSpec, ...], counts: list[int]) -> pa.Array:
    names = pa.array([s.symbol for s in specs], pa.string())
    return names.take(pa.array(np.repeat(np.arange(len(specs)), counts)))


def open_interest_truth(venue_day: VenueDay, market_day: MarketDay) -> pa.Table:
    """The 288 snapshots taken on the day (00:00 .. 23:55) per symbol, one-sided, in units."""
    rows = slice(0, SNAPSHOTS_PER_DAY)
    specs = market_day.specs
    snaps = [venue_day.open_interest[spec.symbol] for spec in specs]
    counts = [snap.snapshot_ms[rows].size for snap in snaps]

    def stacked(values, dtype) -> pa.Array:
        return pa.array(np.concatenate([np.asarray(v, dtype=dtype) for v in values]))

    return pa.table(
        {
            "venue": _names(venue_day.venue, counts),
            "symbol": _symbols(specs, counts),
            "snapshot_ms": stacked((s.snapshot_ms[rows] for s in snaps), np.int64),
            "oi_units": stacked((s.oi_units[rows] for s in snaps), np.int64),
            "mark_units": stacked((s.mark_units[rows] for s in snaps), np.int64),
            "value_units": stacked((s.value_units[rows] for s in snaps), np.int64),
            "open_interest_base": stacked(
                (
                    s.oi_units[rows] * 10.0**-p.qty_decimals
                    for s, p in zip(snaps, specs, strict=True)
                ),
                np.float64,
            ),
            "open_interest_usd": stacked(
                (
                    s.value_units[rows] * 10.0 ** -(p.price_decimals + p.qty_decimals)
                    for s, p in zip(snaps, specs, strict=True)
                ),
                np.float64,
            ),
            "leveraged_long_base": stacked((s.leveraged_long[rows] for s in snaps), np.float64),
            "leveraged_short_base": stacked((s.leveraged_short[rows] for s in snaps), np.float64),
        }
    )


def minute_bar_truth(venue_day: VenueDay, market_day: MarketDay) -> pa.Table:
    """Minute candles in integer units (the source of every candle the APIs serve); volumes in
    the model's base units on every venue."""
    specs = market_day.specs
    bars = [venue_day.bars[spec.symbol] for spec in specs]
    counts = [b.open_ms.size for b in bars]
    columns = {"venue": _names(venue_day.venue, counts), "symbol": _symbols(specs, counts)}
    for c, name in enumerate(MinuteBars.COLUMNS):
        values = [np.asarray(b.columns()[c], dtype=np.int64) for b in bars]
        columns[name] = pa.array(np.concatenate(values), pa.int64())
    return pa.table(columns)


def funding_truth(venue_day: VenueDay, market_day: MarketDay) -> pa.Table:
    events = venue_day.funding
    predicted = [e.rate_e8 if e.predicted_e8 is None else e.predicted_e8 for e in events]
    return pa.table(
        {
            "venue": _venue_column(venue_day, len(events)),
            "symbol": pa.array([e.symbol for e in events], pa.string()),
            "funding_time_ms": pa.array([e.funding_ms for e in events], pa.int64()),
            "rate_e8": pa.array([e.rate_e8 for e in events], pa.int64()),
            "predicted_rate_e8": pa.array(predicted, pa.int64()),
            "mark_price": pa.array([e.mark_price for e in events], pa.float64()),
            "interval_hours": pa.array([e.interval_hours for e in events], pa.int64()),
        }
    )


def daily_truth(venue_day: VenueDay, market_day: MarketDay) -> pa.Table:
    """Per symbol: the venue's candle of the day, closing open interest (one-sided) and
    liquidated notional by side: every order at its fill price and at its bankruptcy price,
    and what the venue's public feed showed (`Liquidations.published_usd`)."""
    liq, specs = venue_day.liquidations, market_day.specs
    notional = liq.notional_usd(specs)
    bankruptcy = liq.bankruptcy_notional_usd(specs)
    published = liq.published_usd(specs, venue_day.venue)
    columns: dict[str, list] = defaultdict(list)
    for s, spec in enumerate(specs):
        bars = venue_day.bars[spec.symbol]
        snap = venue_day.open_interest[spec.symbol]
        price_scale = 10.0**-spec.price_decimals
        mine = liq.symbol_index == s
        columns["venue"].append(venue_day.venue)
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
            columns[f"{side}_liquidated_bankruptcy_usd"].append(float(bankruptcy[chosen].sum()))
            columns[f"{side}_liquidated_published_usd"].append(float(published[chosen].sum()))
            columns[f"{side}_liquidation_orders"].append(int(chosen.sum()))
    table = pa.table(dict(columns))
    day = pa.array([market_day.day] * len(specs), pa.date32())
    return table.add_column(0, "day", day)


# ------------------------------------------------------------------------------ reading


@dataclass
class TruthStore:
    """Reads a simulation's truth for the simulated APIs: its manifest and one venue's rows."""

    truth_root: Path
    venue: str
    manifest: dict = field(init=False, repr=False)
    _cache: dict = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        path = Path(self.truth_root) / TRUTH_MANIFEST
        if not path.exists():
            raise FileNotFoundError(f"no simulation under {self.truth_root} ({path} missing)")
        self.manifest = json.loads(path.read_text())
        self.specs = {s["symbol"]: s for s in self.manifest["specs"]}
        venues = self.manifest["venues"]
        self.simulated = self.venue in venues
        self.contracts = {c["symbol"]: c for c in venues.get(self.venue, [])}

    @property
    def window_start(self) -> date:
        return date.fromisoformat(self.manifest["start"])

    @property
    def window_end(self) -> date:
        return date.fromisoformat(self.manifest["end"])

    def _cached(self, key: tuple, build):
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def symbol_rows(
        self, name: str, symbol: str, since: date | None = None, until: date | None = None
    ) -> pa.Table:
        """One symbol's rows of a truth table (time order within each day file), of the days
        from `since` to `until` if given: an endpoint reads the days a request can be answered
        from (`page_span`), not the whole window for every request."""

        def day_rows(day: date) -> pa.Table:
            rows = self._day_rows(name, day)
            return rows.filter(pc.equal(rows.column("symbol"), symbol))

        parts = [
            self._cached(("rows", name, symbol, day), lambda day=day: day_rows(day))
            for day in self._days(since, until)
        ]
        return self._joined(parts, name)

    def _days(self, since: date | None, until: date | None) -> list[date]:
        """The window's days from `since` to `until` (inclusive), in order."""
        first = max(since or self.window_start, self.window_start)
        last = min(until or self.window_end, self.window_end - timedelta(days=1))
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def _day_rows(self, name: str, day: date) -> pa.Table:
        """This venue's rows of one day file (`_venue_day`)."""
        path = truth_path(Path(self.truth_root), name, day)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise TransportError(f"simulation truth incomplete: {path} is missing") from None
        return _venue_day(path, (stat.st_mtime_ns, stat.st_size), self.venue)

    def _joined(self, parts: list[pa.Table], name: str) -> pa.Table:
        if not parts:  # no day of the window asked for: no rows, the table's columns
            return self._day_rows(name, self.window_start).slice(0, 0)
        return pa.concat_tables(parts) if len(parts) > 1 else parts[0]

    def candles(
        self,
        symbol: str,
        interval_ms: int,
        offset_ms: int | None = None,
        span: tuple[int, int] | None = None,
    ) -> np.ndarray:
        """(n, 10) int64 candles of `interval_ms` aggregated from the minute bars: every candle
        of the window, or those opening within `span` ([first, last] ms), each read whole."""
        if span is None:
            return self._cached(
                ("candles", symbol, interval_ms, offset_ms),
                lambda: self._aggregate(symbol, interval_ms, offset_ms, None, None),
            )
        first, last = (int(t) for t in candle_start(np.array(span), interval_ms, offset_ms))
        candles = self._aggregate(
            symbol, interval_ms, offset_ms, _utc_day(first), _utc_day(last + interval_ms - 1)
        )
        opens = candles[:, 0]
        return candles[(opens >= first) & (opens <= last)]  # not the part-read candles at the ends

    def _aggregate(
        self, symbol: str, interval_ms: int, offset_ms: int | None, since, until
    ) -> np.ndarray:
        rows = self.symbol_rows("minute_bars", symbol, since, until)
        minutes = np.stack([rows.column(c).to_numpy() for c in MinuteBars.COLUMNS], axis=1)
        return aggregate_candles(minutes, interval_ms, offset_ms)


@functools.lru_cache(maxsize=DAY_FILES_KEPT)
def _venue_day(path: Path, version: tuple[int, int], venue: str) -> pa.Table:
    """A venue's rows of a day file, shared by every store of the process: landing builds a
    fresh simulated exchange per slice, and the slices of a month read the same days (each
    day of minute bars was read once per symbol and interval). Keyed by the file's mtime and
    size too, so a simulation written again over it is read again."""
    part = pq.read_table(path)
    return part.filter(pc.equal(part.column("venue"), venue))


def page_span(
    limit: int, step_ms: int, upper_ms: int, lower_ms: int | None = None, oldest_first=False
) -> tuple[int, int]:
    """The times [first, last] ms a page of at most `limit` rows can hold, from a series with a
    row at least every `step_ms` (the truth has no gaps): the newest rows up to `upper_ms` (none
    before `lower_ms`), or with `oldest_first` the oldest from `lower_ms` on; a step wider than
    the page. What a request answers from, so an endpoint reads days, not the whole window."""
    reach = (limit + 1) * step_ms
    if oldest_first and lower_ms is not None:
        return lower_ms, min(upper_ms, lower_ms + reach)
    first = upper_ms - reach
    return (first if lower_ms is None else max(lower_ms, first)), upper_ms


def span_days(span: tuple[int, int]) -> tuple[date, date]:
    """The UTC days of a span's first and last times."""
    return _utc_day(span[0]), _utc_day(span[1])


def _utc_day(ms: int) -> date:
    return EPOCH + timedelta(days=ms // DAY_MS)
