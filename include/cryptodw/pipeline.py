"""The steps a refresh is made of, as plain functions: the DAGs, the CLI and the tests call these.

Landing one slice (venue × dataset × symbol over a window) = fetch through a transport → parse to
typed records (+ rejects) → validate with the raw suite → write the day files atomically, and
quarantine the rejects. Nothing is written when validation fails.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pyarrow as pa

from include.cryptodw.assets import KLINE_INTERVALS
from include.cryptodw.lake.writer import SourcePayload, land_records, quarantine_records
from include.cryptodw.settings import Settings, load_settings
from include.cryptodw.transport import HttpTransport, RateLimiter, ReplayTransport, Transport
from include.cryptodw.windows import Window, archive_boundary, resolve_window

log = logging.getLogger(__name__)

VENUE = "binance"
CLOCK_FILE = "clock.json"


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


def make_transport(settings: Settings) -> Transport:
    """Replay answers from retained payloads; live calls the exchange and retains what it gets."""
    if settings.source_mode == "replay":
        return ReplayTransport(root=settings.replay_dir)
    limiter = RateLimiter(min_interval_s=0.05, weight_header="x-mbx-used-weight-1m")
    return HttpTransport(limiter=limiter, retain_dir=settings.replay_dir)


def exchange_clock(settings: Settings) -> date:
    """The exchange's "today", which decides what the bulk archive already holds.

    Live, it is today (UTC). A recorded offline exchange carries the day its recording ended
    in `clock.json`, so replaying any part of it asks for exactly what was recorded; a plain
    mirror of the archive has no clock and is read as of today.
    """
    clock = settings.replay_dir / CLOCK_FILE
    if settings.source_mode == "replay" and clock.exists():
        return date.fromisoformat(json.loads(clock.read_text())["as_of"])
    return datetime.now(UTC).date()


def fetch_slice(
    transport: Transport,
    dataset: str,
    symbol: str,
    interval: str | None,
    window: Window,
    as_of: date,
):
    """Fetch a window for one symbol: archive files for the days the archive holds at `as_of`,
    REST for the more recent ones."""
    from include.cryptodw.sources import binance
    from include.cryptodw.sources.common import ParseResult

    fetchers = {
        "klines": lambda via, w: binance.fetch_klines(transport, symbol, interval, w.start, w.end, via),
        "open_interest": lambda via, w: binance.fetch_open_interest(transport, symbol, w.start, w.end, via),
        "funding": lambda via, w: binance.fetch_funding(transport, symbol, w.start, w.end, via),
    }
    archived, recent = window.split(archive_boundary(dataset, as_of=as_of))
    results = []
    if archived is not None:
        results.append(fetchers[dataset]("archive", archived))
    if recent is not None:
        results.append(fetchers[dataset]("rest", recent))
    return ParseResult.concat(results)


def land_slice(
    settings: Settings,
    dataset: str,
    window: Window,
    symbol: str | None = None,
    interval: str | None = None,
    transport: Transport | None = None,
) -> SliceResult:
    """Land one (dataset, symbol[, interval]) slice of Binance for `window`, replacing it."""
    from include.cryptodw.sources import binance

    if dataset == "liquidations":
        part = "all"
        result = binance.read_liquidations(settings.replay_dir, window.start, window.end)
    else:
        if symbol is None:
            raise ValueError(f"{dataset} is landed per symbol; got no symbol")
        part = f"{symbol}-{interval}" if dataset == "klines" else symbol
        transport = transport or make_transport(settings)
        result = fetch_slice(
            transport, dataset, symbol, interval, window, exchange_clock(settings)
        )
    return _validate_and_write(settings, dataset, part, window, result.table, result.rejects, result.sources)


def _validate_and_write(
    settings: Settings,
    dataset: str,
    part: str,
    window: Window,
    table: pa.Table,
    rejects: list[dict],
    sources: list[SourcePayload],
) -> SliceResult:
    from include.cryptodw.quality.runner import validate_raw_table

    validate_raw_table(table, VENUE, dataset, window.start, window.end)
    landed = land_records(
        table,
        raw_dir=settings.raw_dir,
        manifest_dir=settings.manifest_dir,
        venue=VENUE,
        dataset=dataset,
        part=part,
        window_start=window.start,
        window_end=window.end,
        sources=sources,
    )
    quarantine_records(
        rejects,
        quarantine_dir=settings.quarantine_dir,
        venue=VENUE,
        dataset=dataset,
        part=part,
        day=window.start,
    )
    return SliceResult(
        venue=VENUE,
        dataset=dataset,
        part=part,
        window_start=window.start.isoformat(),
        window_end=window.end.isoformat(),
        rows=sum(f.rows for f in landed),
        rejected=len(rejects),
        files=len(landed),
    )


def plan_slices(params: dict | None, interval_start, interval_end) -> dict[str, list[dict]]:
    """The slices the landing tasks are mapped over, per dataset, each with its window.

    Liquidations come from one market-wide stream, so they are one slice, not one per symbol.
    """
    window = resolve_window(params, interval_start, interval_end).as_dict()
    symbols = load_settings().symbols
    return {
        "klines": [
            {"symbol": s, "interval": i, **window} for s in symbols for i in KLINE_INTERVALS
        ],
        "open_interest": [{"symbol": s, **window} for s in symbols],
        "funding": [{"symbol": s, **window} for s in symbols],
        "liquidations": [dict(window)],
    }


def land_slice_task(dataset: str, slice_: dict, outlet_event=None) -> dict:
    """Entry point for one mapped landing task: land, then announce the window on the asset."""
    window = Window.parse(slice_["window_start"], slice_["window_end"])
    result = land_slice(
        load_settings(),
        dataset,
        window,
        symbol=slice_.get("symbol"),
        interval=slice_.get("interval"),
    )
    if outlet_event is not None:
        outlet_event.extra = window.as_dict()
    return result.as_dict()

