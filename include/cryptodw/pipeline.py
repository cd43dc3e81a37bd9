"""The steps a refresh is made of, as plain functions: the DAGs, the CLI and the tests call these.

Landing one slice (venue × dataset × symbol over a window) = fetch through a transport → parse to
typed records (+ rejects) → validate with the raw suite → write the day files atomically, and
quarantine the rejects. Nothing is written when validation fails. `land_window` validates the
slices of a dataset together, with one run of its raw suite.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from include.cryptodw.assets import COLLECTOR_COVERAGE_GAPS, KLINE_INTERVALS
from include.cryptodw.collector.coverage import read_coverage_gaps
from include.cryptodw.lake.writer import land_records, quarantine_records
from include.cryptodw.offline import CLOCK_FILE
from include.cryptodw.settings import Settings, load_settings
from include.cryptodw.sources import venues
from include.cryptodw.sources.common import ParseResult
from include.cryptodw.sources.venues import Venue
from include.cryptodw.transport import HttpTransport, ReplayTransport, Transport
from include.cryptodw.windows import Window, resolve_window

log = logging.getLogger(__name__)

# The most rows `land_window` validates in one run of a raw suite (bounds its memory).
BATCH_ROWS = 1_000_000
# Slices of a validated batch written at once (the writes mostly wait on fsync).
WRITE_THREADS = 4


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


@dataclass(frozen=True)
class FetchedSlice:
    """One slice fetched and parsed, not yet validated or written."""

    venue: str
    dataset: str
    part: str
    window: Window
    result: ParseResult


def fetch_planned_slice(
    settings: Settings,
    dataset: str,
    window: Window,
    symbol: str | None = None,
    interval: str | None = None,
    transport: Transport | None = None,
    venue: str = "binance",
) -> FetchedSlice:
    """Fetch and parse one (venue, dataset[, symbol, interval]) slice for `window`.

    Instruments are a snapshot: they land on the UTC day the venue answered, whatever the
    window.
    """
    connector = venues.venue(venue, settings.symbols)
    transport = transport or make_transport(settings, connector)
    result = fetch_slice(settings, connector, transport, dataset, window, symbol, interval)
    if dataset == "instruments":
        window = _snapshot_window(result, connector.raw_datasets[dataset][1], window)
    return FetchedSlice(venue, dataset, slice_part(dataset, symbol, interval), window, result)


def land_slice(
    settings: Settings,
    dataset: str,
    window: Window,
    symbol: str | None = None,
    interval: str | None = None,
    transport: Transport | None = None,
    venue: str = "binance",
) -> SliceResult:
    """Land one (venue, dataset[, symbol, interval]) slice for `window`, replacing it."""
    fetched = fetch_planned_slice(settings, dataset, window, symbol, interval, transport, venue)
    return _validate_and_write(settings, fetched)


def _snapshot_window(result: ParseResult, time_column: str, default: Window) -> Window:
    if result.table.num_rows == 0:
        return Window(default.end - timedelta(days=1), default.end)
    day = pc.max(result.table[time_column]).as_py().date()
    return Window(day, day + timedelta(days=1))


def _validate_and_write(
    settings: Settings, fetched: FetchedSlice, validated: bool = False
) -> SliceResult:
    """Gate the slice with its raw suite (unless its batch passed it already), then write its
    day files and quarantine its rejects."""
    from include.cryptodw.quality.runner import validate_raw_table

    venue, dataset, part, window = fetched.venue, fetched.dataset, fetched.part, fetched.window
    if not validated:
        validate_raw_table(fetched.result.table, venue, dataset, window.start, window.end)
    landed = land_records(
        fetched.result.table,
        raw_dir=settings.raw_dir,
        manifest_dir=settings.manifest_dir,
        venue=venue,
        dataset=dataset,
        part=part,
        window_start=window.start,
        window_end=window.end,
        sources=fetched.result.sources,
    )
    quarantine_records(
        fetched.result.rejects,
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
        rejected=len(fetched.result.rejects),
        files=len(landed),
    )


def _land_batch(settings: Settings, batch: list[FetchedSlice]) -> list[SliceResult]:
    """Write slices of one (venue, dataset, window) that pass their raw suite together, a few
    at a time (each file is fsynced before it is renamed into place: concurrent writers share
    the filesystem's journal commits); when they do not pass together, validate and write them
    one by one, in order, as `land_slice` does."""
    if len(batch) == 1 or not _batch_passes(batch):
        return [_validate_and_write(settings, fetched) for fetched in batch]
    with ThreadPoolExecutor(WRITE_THREADS) as pool:
        return list(pool.map(lambda fetched: _validate_and_write(settings, fetched, True), batch))


def _batch_passes(batch: list[FetchedSlice]) -> bool:
    from include.cryptodw.quality.runner import raw_table_passes

    first = batch[0]
    try:
        table = pa.concat_tables([fetched.result.table for fetched in batch])
    except pa.ArrowInvalid:  # the slices' tables differ in schema: not one batch
        return False
    return raw_table_passes(table, first.venue, first.dataset, first.window.start, first.window.end)


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
    """Land every slice of every configured venue for `window` (the CLI's landing loop).

    The slices of a dataset are fetched, validated together with one run of its raw suite
    (at most `BATCH_ROWS` rows at a time), then written; a batch that does not pass is
    validated slice by slice, so a failure names its slice and the slices before it land,
    as they do when a fetch fails.
    """
    from tqdm import tqdm

    slices = [
        (name, slice_)
        for venue in settings.venues
        for name, items in plan_slices(venue, window.as_dict(), None, None, settings).items()
        for slice_ in items
        if dataset in (None, name)
    ]
    landed: list[SliceResult] = []
    batch: list[FetchedSlice] = []
    for name, slice_ in tqdm(
        slices,
        desc=f"landing {window.start}..{window.end}",
        unit="slice",
        disable=not progress,
        leave=False,
    ):
        try:
            fetched = fetch_planned_slice(
                settings,
                name,
                window,
                symbol=slice_.get("symbol"),
                interval=slice_.get("interval"),
                venue=slice_["venue"],
            )
        except Exception:
            if batch:
                _land_batch(settings, batch)  # the slices fetched before still land
            raise
        if batch and not _same_batch(batch, fetched):
            landed += _land_batch(settings, batch)
            batch = []
        batch.append(fetched)
    if batch:
        landed += _land_batch(settings, batch)
    return landed


def _same_batch(batch: list[FetchedSlice], fetched: FetchedSlice) -> bool:
    """`fetched` joins `batch`: same venue, dataset and window, and the rows still fit."""
    first = batch[0]
    rows = sum(f.result.table.num_rows for f in batch) + fetched.result.table.num_rows
    same = (fetched.venue, fetched.dataset, fetched.window)
    return same == (first.venue, first.dataset, first.window) and rows <= BATCH_ROWS
