"""The steps a refresh is made of, as plain functions: the DAGs, the CLI and the tests call these.

Landing one slice (venue × dataset × symbol over a window) = fetch through a transport → parse to
typed records (+ rejects) → validate with the raw suite → write the day files atomically, and
quarantine the rejects. Nothing is written when validation fails.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from include.cryptodw.assets import COLLECTOR_COVERAGE_GAPS, KLINE_INTERVALS
from include.cryptodw.collector.coverage import read_coverage_gaps
from include.cryptodw.lake.writer import SourcePayload, land_records, quarantine_records
from include.cryptodw.offline import CLOCK_FILE
from include.cryptodw.settings import Settings, load_settings
from include.cryptodw.sources import venues
from include.cryptodw.sources.common import ParseResult
from include.cryptodw.sources.venues import Venue
from include.cryptodw.transport import HttpTransport, ReplayTransport, Transport
from include.cryptodw.windows import Window, resolve_window

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SliceResult:
    """What one landing task did; returned to Airflow as XCom (plain types only)."""

    venue: str
    dataset: str
    part: str
    window_start: str
    window_end: str
    rows: int
    rejected: int
    files: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def make_transport(settings: Settings, venue: Venue) -> Transport:
    """Live calls the venue; simulated asks the offline exchange; replay reads retained pages.

    Live and simulated runs retain every page they get, so any run can be replayed.
    """
    if settings.source_mode == "live":
        return HttpTransport(
            limiter=venue.rate_limit(),
            retain_dir=settings.replay_dir,
            retry_on_body=venue.retry_on_body,
            headers=settings.api_key_headers(venue.name),
        )
    if settings.source_mode == "simulated":
        from include.cryptodw.offline import simulated_transport

        return simulated_transport(settings)
    return ReplayTransport(root=settings.replay_dir)


def exchange_clock(settings: Settings) -> date:
    """The exchange's "today", which decides what the bulk archive already holds.

    Live, it is today (UTC). The offline exchange carries its own day in `clock.json` (the
    day after the simulated window); a plain mirror of the archive has no clock and is read
    as of today.
    """
    clock = settings.replay_dir / CLOCK_FILE
    if settings.source_mode != "live" and clock.exists():
        return date.fromisoformat(json.loads(clock.read_text())["as_of"])
    return datetime.now(UTC).date()


def fetch_slice(
    settings: Settings,
    venue: Venue,
    transport: Transport,
    dataset: str,
    window: Window,
    symbol: str | None = None,
    interval: str | None = None,
) -> ParseResult:
    """Fetch one dataset of a venue for `window`: per symbol, market-wide, or a snapshot."""
    if dataset == "liquidations":
        return venue.liquidations(settings.replay_dir, transport, window)
    if dataset == COLLECTOR_COVERAGE_GAPS:
        return read_coverage_gaps(settings.replay_dir, venue.name, window.start, window.end)
    if dataset == "instruments":
        return venue.instruments(transport)
    if symbol is None:
        raise ValueError(f"{venue.name} {dataset} is fetched per symbol; got no symbol")
    as_of = exchange_clock(settings)
    return venue.fetch_symbol(transport, dataset, symbol, interval, window, as_of)


def slice_part(dataset: str, symbol: str | None, interval: str | None) -> str:
    """The file name of a slice inside a day partition."""
    if dataset == "klines":
        return f"{symbol}-{interval}"
    return symbol or "all"


def land_slice(
    settings: Settings,
    dataset: str,
    window: Window,
    symbol: str | None = None,
    interval: str | None = None,
    transport: Transport | None = None,
    venue: str = "binance",
) -> SliceResult:
    """Land one (venue, dataset[, symbol, interval]) slice for `window`, replacing it.

    Instruments are a snapshot: they land on the UTC day the venue answered, whatever the
    window.
    """
    connector = venues.venue(venue, settings.symbols)
    transport = transport or make_transport(settings, connector)
    result = fetch_slice(settings, connector, transport, dataset, window, symbol, interval)
    if dataset == "instruments":
        window = _snapshot_window(result, connector.raw_datasets[dataset][1], window)
    part = slice_part(dataset, symbol, interval)
    return _validate_and_write(
        settings, venue, dataset, part, window, result.table, result.rejects, result.sources
    )


def _snapshot_window(result: ParseResult, time_column: str, default: Window) -> Window:
    if result.table.num_rows == 0:
        return Window(default.end - timedelta(days=1), default.end)
    day = pc.max(result.table[time_column]).as_py().date()
    return Window(day, day + timedelta(days=1))


def _validate_and_write(
    settings: Settings,
    venue: str,
    dataset: str,
    part: str,
    window: Window,
    table: pa.Table,
    rejects: list[dict],
    sources: list[SourcePayload],
) -> SliceResult:
    from include.cryptodw.quality.runner import validate_raw_table

    validate_raw_table(table, venue, dataset, window.start, window.end)
    landed = land_records(
        table,
        raw_dir=settings.raw_dir,
        manifest_dir=settings.manifest_dir,
        venue=venue,
        dataset=dataset,
        part=part,
        window_start=window.start,
        window_end=window.end,
        sources=sources,
    )
    quarantine_records(
        rejects,
        quarantine_dir=settings.quarantine_dir,
        venue=venue,
        dataset=dataset,
        part=part,
        day=window.start,
    )
    return SliceResult(
        venue=venue,
        dataset=dataset,
        part=part,
        window_start=window.start.isoformat(),
        window_end=window.end.isoformat(),
        rows=sum(f.rows for f in landed),
        rejected=len(rejects),
        files=len(landed),
    )


def plan_slices(
    venue: str,
    params: dict | None,
    interval_start,
    interval_end,
    settings: Settings | None = None,
) -> dict[str, list[dict]]:
    """The slices a venue's landing tasks are mapped over, per dataset, each with its window.

    Liquidations are one market-wide slice and instruments one snapshot, not one per symbol.
    A scheduled run also re-lands the lookback days before its interval (late data).
    """
    settings = settings or load_settings()
    window = resolve_window(params, interval_start, interval_end, settings.lookback_days).as_dict()
    slices: dict[str, list[dict]] = {}
    for dataset in venues.venue(venue, settings.symbols).datasets:
        if dataset == "klines":
            items = [
                {"symbol": s, "interval": i} for s in settings.symbols for i in KLINE_INTERVALS
            ]
        elif dataset in venues.SYMBOL_DATASETS:
            items = [{"symbol": s} for s in settings.symbols]
        else:
            items = [{}]
        slices[dataset] = [{"venue": venue, **item, **window} for item in items]
    return slices


def land_slice_task(dataset: str, slice_: dict, outlet_event=None) -> dict:
    """Entry point for one mapped landing task: land, then announce the window on the asset."""
    window = Window.parse(slice_["window_start"], slice_["window_end"])
    result = land_slice(
        load_settings(),
        dataset,
        window,
        symbol=slice_.get("symbol"),
        interval=slice_.get("interval"),
        venue=slice_["venue"],
    )
    if outlet_event is not None:
        outlet_event.extra = window.as_dict()
    return result.as_dict()


def land_window(
    settings: Settings, window: Window, dataset: str | None = None, progress: bool = False
) -> list[SliceResult]:
    """Land every slice of every configured venue for `window` (the CLI's landing loop)."""
    from tqdm import tqdm

    slices = [
        (name, slice_)
        for venue in settings.venues
        for name, items in plan_slices(venue, window.as_dict(), None, None, settings).items()
        for slice_ in items
        if dataset in (None, name)
    ]
    return [
        land_slice(
            settings,
            name,
            window,
            symbol=slice_.get("symbol"),
            interval=slice_.get("interval"),
            venue=slice_["venue"],
        )
        for name, slice_ in tqdm(
            slices,
            desc=f"landing {window.start}..{window.end}",
            unit="slice",
            disable=not progress,
            leave=False,
        )
    ]
