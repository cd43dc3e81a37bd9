"""One entry per venue: its raw datasets and how each is fetched for a window.

The pipeline lands every venue the same way (fetch → raw suite → lake); what differs between
venues, and only that, is here and in the venue modules: instrument ids, which route serves
which days, where liquidations come from.

Symbols are written the Binance way everywhere outside `sources/` (`BTCUSDT`: base + USDT
quote); each venue maps them to its own instrument ids.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa

from include.cryptodw import schemas
from include.cryptodw.sources import binance, bybit, okx
from include.cryptodw.sources.common import ParseResult
from include.cryptodw.transport import RateLimiter, Transport
from include.cryptodw.windows import Window, archive_boundary

QUOTE = "USDT"
SYMBOL_DATASETS = ("klines", "open_interest", "funding")


@dataclass(frozen=True)
class Venue:
    """How one venue's datasets are fetched; every fetch returns a `ParseResult`.

    Besides its own datasets every venue lands the liquidation collector's coverage gaps
    (`schemas.COLLECTOR_DATASETS`), read from the replay directory like its recorded stream.
    """

    name: str
    raw_datasets: Mapping[str, tuple[pa.Schema, str]]
    # (transport, dataset, symbol, interval, window, as_of) -> rows of one symbol
    fetch_symbol: Callable[[Transport, str, str, str | None, Window, date], ParseResult]
    # (replay_root, transport, window) -> every liquidation of the window
    liquidations: Callable[[Path, Transport, Window], ParseResult]
    # (transport) -> the venue's contract specifications now; None if not landed
    instruments: Callable[[Transport], ParseResult] | None = None
    # the pacing a live run keeps to (documented public limits, with margin)
    rate_limit: Callable[[], RateLimiter] = RateLimiter
    # a body that means "too many requests" whatever its HTTP status, retried like a 429
    retry_on_body: Callable[[bytes], str | None] | None = None

    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(self.raw_datasets)


def base_asset(symbol: str) -> str:
    if not symbol.endswith(QUOTE) or len(symbol) <= len(QUOTE):
        raise ValueError(f"symbol {symbol!r} is not a {QUOTE}-quoted perpetual like BTCUSDT")
    return symbol[: -len(QUOTE)]


# ------------------------------------------------------------------------------ Binance


def _binance_symbol(
    transport: Transport,
    dataset: str,
    symbol: str,
    interval: str | None,
    window: Window,
    as_of: date,
) -> ParseResult:
    """Archive files for the days data.binance.vision holds at `as_of`, REST for the rest."""
    fetchers = {
        "klines": lambda via, w: binance.fetch_klines(
            transport, symbol, interval, w.start, w.end, via
        ),
        "open_interest": lambda via, w: binance.fetch_open_interest(
            transport, symbol, w.start, w.end, via
        ),
        "funding": lambda via, w: binance.fetch_funding(transport, symbol, w.start, w.end, via),
    }
    archived, recent = window.split(archive_boundary(dataset, as_of=as_of))
    parts = [fetchers[dataset](via, w) for via, w in (("archive", archived), ("rest", recent)) if w]
    return ParseResult.concat(parts, schema=schemas.RAW_DATASETS[dataset][0])


def _binance_liquidations(replay_root: Path, transport: Transport, window: Window) -> ParseResult:
    return binance.read_liquidations(replay_root, window.start, window.end)


# -------------------------------------------------------------------------------- Bybit


def _bybit_symbol(
    transport: Transport,
    dataset: str,
    symbol: str,
    interval: str | None,
    window: Window,
    as_of: date,
) -> ParseResult:
    if dataset == "klines":
        return bybit.fetch_klines(transport, symbol, interval, window.start, window.end)
    if dataset == "open_interest":
        return bybit.fetch_open_interest(transport, symbol, window.start, window.end)
    return bybit.fetch_funding(transport, symbol, window.start, window.end)


def _bybit_liquidations(replay_root: Path, transport: Transport, window: Window) -> ParseResult:
    return bybit.read_liquidations(replay_root, window.start, window.end)


# ---------------------------------------------------------------------------------- OKX


def okx_instrument(symbol: str) -> str:
    """BTCUSDT -> BTC-USDT-SWAP (the linear perpetual)."""
    return f"{okx_family(symbol)}-SWAP"


def okx_family(symbol: str) -> str:
    """BTCUSDT -> BTC-USDT (OKX's instrument family, `uly`)."""
    return f"{base_asset(symbol)}-{QUOTE}"


def _okx_symbol(
    transport: Transport,
    dataset: str,
    symbol: str,
    interval: str | None,
    window: Window,
    as_of: date,
) -> ParseResult:
    inst_id = okx_instrument(symbol)
    if dataset == "klines":
        return okx.fetch_klines(transport, inst_id, interval, window.start, window.end)
    if dataset == "open_interest":
        return okx.fetch_open_interest(transport, inst_id, window.start, window.end)
    return okx.fetch_funding(transport, inst_id, window.start, window.end)


def okx_liquidations(
    replay_root: Path, transport: Transport, window: Window, symbols: tuple[str, ...]
) -> ParseResult:
    """The websocket recording, backed up by the REST history of each instrument family."""
    recorded = okx.read_liquidations(replay_root, window.start, window.end)
    polled = [
        okx.fetch_liquidation_orders(transport, okx_family(s), window.start, window.end)
        for s in symbols
    ]
    return okx.merge_liquidations(recorded, *polled)


# ------------------------------------------------------------------------------ registry


def venue(name: str, symbols: tuple[str, ...]) -> Venue:
    """The venue `name` for a set of tracked symbols (OKX polls liquidations per symbol)."""
    if name == "binance":
        # 2400 request weight per minute per IP, reported in X-MBX-USED-WEIGHT-1M
        return Venue(
            "binance",
            {**schemas.RAW_DATASETS, **schemas.COLLECTOR_DATASETS},
            _binance_symbol,
            _binance_liquidations,
            rate_limit=lambda: RateLimiter(0.05, "x-mbx-used-weight-1m", weight_budget=2400),
        )
    if name == "bybit":
        # 600 requests per 5 s per IP: 20 per second stays far below it
        return Venue(
            "bybit",
            {**bybit.RAW_DATASETS, **schemas.COLLECTOR_DATASETS},
            _bybit_symbol,
            _bybit_liquidations,
            bybit.fetch_instruments,
            rate_limit=lambda: RateLimiter(0.05),
        )
    if name == "okx":
        # the strictest endpoint we call (OI and funding history) allows 10 requests per 2 s
        return Venue(
            "okx",
            {**okx.RAW_DATASETS, **schemas.COLLECTOR_DATASETS},
            _okx_symbol,
            lambda root, transport, window: okx_liquidations(root, transport, window, symbols),
            okx.fetch_instruments,
            rate_limit=lambda: RateLimiter(0.22),
            retry_on_body=okx.rate_limit_reason,
        )
    raise ValueError(f"unknown venue {name!r}; known: binance, bybit, okx")


def raw_datasets(venue_name: str) -> Mapping[str, tuple[pa.Schema, str]]:
    """Schema and partition-time column of every raw dataset of a venue."""
    return venue(venue_name, ()).raw_datasets
