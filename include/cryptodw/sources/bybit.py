"""Bybit v5 linear perpetuals (`category=linear`): klines, open interest, funding, instruments and
liquidations as raw tables (EXCHANGES.md §1.2).

REST (`https://api.bybit.com`), every body an envelope `{"retCode", "retMsg", "result", "time"}`;
`retCode != 0` raises `ExchangeAPIError` with Bybit's `retMsg`:

* `/v5/market/kline`: `[startTime, open, high, low, close, volume, turnover]` arrays, newest
  first, at most 1000 per call. The window is cut into spans of at most 1000 candles, so a page
  cannot be truncated whichever end Bybit fills it from. A candle still open at Bybit's
  server `time` is not final and is left out (it lands on a later run).
* `/v5/market/open-interest`: 5-minute snapshots, at most 200 per call, paged with
  `nextPageCursor`. `openInterest` is in base coin for linear contracts and Bybit documents it
  as the SUM OF BOTH SIDES; `singleOpenInterest` (one side, added 2026-06) is kept when present.
* `/v5/market/funding/history`: at most 200 per call; "only startTime" is an error, so every
  call carries `endTime`, and the window is walked backwards by `endTime` in spans of 200 hours
  (funding settles at most hourly, so a span never holds more than one page).
* `/v5/market/instruments-info`: contract metadata (lot size, tick size, launch time, funding
  interval), paged with `nextPageCursor`. A linear contract has no contract size: quantities
  are in units of `baseCoin` (which is "1000PEPE" for 1000PEPEUSDT, i.e. 1000 PEPE).

Liquidations come only from the websocket topic `allLiquidation.{symbol}` (all liquidations,
pushed in 500 ms batches), recorded in segment files (`transport.iter_ws_messages`). Its `S`
is the side of the liquidated POSITION: Bybit's docs say "When you receive a `Buy` update,
this means that a long position has been liquidated". That is the opposite of Binance's `S`
(the forced order's side); raw rows keep Bybit's value and staging translates it. `v` is the
executed size (base coin for linear) and `p` the BANKRUPTCY price, not a fill price.

Raw rows keep Bybit's units; every fetch returns only rows inside the half-open window
`[start, end)` of UTC days, de-duplicated on (symbol, time). All I/O goes through the
`Transport`, so replaying retained payloads runs exactly this code.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path

import pyarrow as pa

from include.cryptodw.sources.common import (
    DAY_MS,
    ExchangeAPIError,
    PagingError,
    ParseResult,
    PayloadFormatError,
    RecordedSegment,
    RepeatCounter,
    RowCollector,
    RowError,
    TimeBounds,
    decode_json,
    dedupe_on_key,
    integer,
    number,
    plain_symbol,
    raw_json,
    read_recorded_stream,
    require_symbol,
    source_payload,
    text,
    time_hint,
    timestamp_ms,
    window_ms,
)
from include.cryptodw.transport import (
    Response,
    Transport,
    TransportError,
)

log = logging.getLogger(__name__)

VENUE = "bybit"
REST_BASE = "https://api.bybit.com"
CATEGORY = "linear"

KLINE_PATH = "/v5/market/kline"
OPEN_INTEREST_PATH = "/v5/market/open-interest"
FUNDING_HISTORY_PATH = "/v5/market/funding/history"
INSTRUMENTS_PATH = "/v5/market/instruments-info"
KLINE_LIMIT = 1000
OPEN_INTEREST_LIMIT = 200
FUNDING_LIMIT = 200
INSTRUMENTS_LIMIT = 1000
OPEN_INTEREST_INTERVAL = "5min"
LIQUIDATION_STREAM = "allLiquidation"

# Our interval names (as in the Binance tables) -> (Bybit's `interval`, candle length in ms).
KLINE_INTERVALS: dict[str, tuple[str, int]] = {
    "1m": ("1", 60_000),
    "5m": ("5", 5 * 60_000),
    "15m": ("15", 15 * 60_000),
    "1h": ("60", 3_600_000),
    "4h": ("240", 4 * 3_600_000),
    "1d": ("D", DAY_MS),
}
OPEN_INTEREST_STEP_MS = 5 * 60_000
# Funding settles at most hourly: a span of `FUNDING_LIMIT` hours fits in one page.
MIN_FUNDING_INTERVAL_MS = 3_600_000
# REST rows this close outside the requested window are overlap, not bad input.
REST_MARGIN_MS = DAY_MS

KLINE_FIELDS = ("startTime", "open", "high", "low", "close", "volume", "turnover")
POSITION_SIDES = frozenset({"Buy", "Sell"})
# Instrument symbols include dated futures such as "BTCUSDT-26MAR27" (a '-' but nothing else).
_INSTRUMENT_SYMBOL = re.compile(r"[^\W_]\w{0,40}(?:-[^\W_]\w{0,15})?")

# ------------------------------------------------------------------------------ schemas

TS = pa.timestamp("ms")

KLINES = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("interval", pa.string(), nullable=False),  # "1d", "1h" (requested as "D", "60")
        pa.field("open_time", TS, nullable=False),  # `startTime`
        pa.field("open_price", pa.float64(), nullable=False),
        pa.field("high_price", pa.float64(), nullable=False),
        pa.field("low_price", pa.float64(), nullable=False),
        pa.field("close_price", pa.float64(), nullable=False),
        pa.field("volume_base", pa.float64(), nullable=False),  # `volume`, base coin (linear)
        pa.field("volume_quote", pa.float64(), nullable=False),  # `turnover`, quote coin (USDT)
        pa.field("_source", pa.string(), nullable=False),
    ]
)

OPEN_INTEREST = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("snapshot_at", TS, nullable=False),  # `timestamp`
        # `openInterest`, base coin; Bybit documents it as the sum of BOTH sides.
        pa.field("open_interest_base", pa.float64(), nullable=False),
        # `singleOpenInterest`, base coin, one side; only in payloads from 2026-06 on.
        pa.field("single_open_interest_base", pa.float64()),
        pa.field("_source", pa.string(), nullable=False),
    ]
)

FUNDING = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("funding_time", TS, nullable=False),  # `fundingRateTimestamp`
        pa.field("funding_rate", pa.float64(), nullable=False),  # decimal per interval
        pa.field("_source", pa.string(), nullable=False),
    ]
)

INSTRUMENTS = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("contract_type", pa.string(), nullable=False),  # LinearPerpetual, LinearFutures
        pa.field("status", pa.string(), nullable=False),
        pa.field("base_coin", pa.string(), nullable=False),  # the unit of every quantity
        pa.field("quote_coin", pa.string(), nullable=False),
        pa.field("settle_coin", pa.string(), nullable=False),
        pa.field("launch_time", TS, nullable=False),
        pa.field("delivery_time", TS),  # NULL for perpetuals (Bybit sends "0")
        pa.field("funding_interval_minutes", pa.int32()),  # `fundingInterval`
        pa.field("tick_size", pa.float64(), nullable=False),  # priceFilter.tickSize, quote
        pa.field("qty_step", pa.float64(), nullable=False),  # lotSizeFilter.qtyStep, base coin
        pa.field("min_order_qty", pa.float64(), nullable=False),  # base coin
        pa.field("max_order_qty", pa.float64(), nullable=False),  # base coin
        pa.field("snapshot_at", TS, nullable=False),  # Bybit's server `time` of the page
        pa.field("_source", pa.string(), nullable=False),
    ]
)

LIQUIDATIONS = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),
        # Bybit `S`: side of the liquidated POSITION. Buy = a LONG was liquidated (the
        # opposite of Binance's order side).
        pa.field("side", pa.string(), nullable=False),
        pa.field("executed_qty", pa.float64(), nullable=False),  # `v`, base coin (linear)
        pa.field("bankruptcy_price", pa.float64(), nullable=False),  # `p`, quote per base
        pa.field("trade_time", TS, nullable=False),  # `T`
        pa.field("event_time", TS, nullable=False),  # message `ts`
        pa.field("received_at", TS),  # local receive time of the websocket message
        # equal liquidations before this one in the same message (`common.RepeatCounter`)
        pa.field("repeat_index", pa.int32(), nullable=False),
        pa.field("_source", pa.string(), nullable=False),
    ]
)

# dataset name -> (schema, event-time column that decides the UTC-day partition)
RAW_DATASETS: dict[str, tuple[pa.Schema, str]] = {
    "klines": (KLINES, "open_time"),
    "open_interest": (OPEN_INTEREST, "snapshot_at"),
    "funding": (FUNDING, "funding_time"),
    "instruments": (INSTRUMENTS, "snapshot_at"),
    "liquidations": (LIQUIDATIONS, "trade_time"),
}

# ------------------------------------------------------------------------------ envelope


def result_of(payload: bytes, source_uri: str) -> dict:
    """The decoded envelope of a Bybit REST body; `retCode != 0` raises `ExchangeAPIError`."""
    body = decode_json(payload, source_uri)
    if not isinstance(body, dict) or "retCode" not in body:
        raise PayloadFormatError(f"body of {source_uri} is not a Bybit envelope: {payload[:200]!r}")
    if body["retCode"] != 0:
        raise ExchangeAPIError(VENUE, body["retCode"], str(body.get("retMsg", "")), source_uri)
    if not isinstance(body.get("result"), dict):
        raise PayloadFormatError(f"{source_uri}: 'result' is not an object")
    return body


def _items(body: Mapping, source_uri: str) -> list:
    items = body["result"].get("list")
    if not isinstance(items, list):
        raise PayloadFormatError(f"{source_uri}: 'result.list' is not an array")
    return items


def _server_time_ms(body: Mapping, source_uri: str) -> int:
    try:
        return timestamp_ms(body, "time")
    except RowError as exc:
        raise PayloadFormatError(f"{source_uri}: no usable server 'time': {exc}") from exc


def _next_cursor(body: Mapping) -> str | None:
    cursor = body["result"].get("nextPageCursor")
    return cursor if isinstance(cursor, str) and cursor else None


# ------------------------------------------------------------------------------- parsers


def parse_kline_page(
    payload: bytes,
    symbol: str,
    interval: str,
    source_uri: str,
    *,
    bounds: TimeBounds | None = None,
) -> ParseResult:
    """A `/v5/market/kline` body -> KLINES rows (candles still open at `time` are left out)."""
    return _kline_rows(result_of(payload, source_uri), symbol, interval, source_uri, bounds)


def _kline_rows(
    body: Mapping, symbol: str, interval: str, source_uri: str, bounds: TimeBounds | None
) -> ParseResult:
    _same_symbol(body["result"], symbol)
    length_ms = KLINE_INTERVALS[interval][1]
    server_ms = _server_time_ms(body, source_uri)
    collector = _collector(KLINES, "klines", "open_time", source_uri, bounds)
    unfinished = 0
    for item in _items(body, source_uri):
        if isinstance(item, list) and len(item) == len(KLINE_FIELDS):
            record: dict | RowError = dict(zip(KLINE_FIELDS, item, strict=True))
        else:
            record = RowError(f"expected an array of {len(KLINE_FIELDS)} kline fields")
        opened = time_hint(record, "startTime", timestamp_ms)
        if opened is not None and opened + length_ms > server_ms:
            unfinished += 1  # still open at Bybit's clock: not final, a later run lands it
            continue
        build = functools.partial(_kline_row, record, symbol, interval, source_uri)
        hint = functools.partial(time_hint, record, "startTime", timestamp_ms)
        collector.add(raw_json(item), build, hint)
    if unfinished:
        log.info("bybit klines %s: left out %d candle(s) still open", source_uri, unfinished)
    return collector.result()


def _kline_row(record: dict | RowError, symbol: str, interval: str, source_uri: str) -> dict:
    if isinstance(record, RowError):
        raise record
    return {
        "symbol": symbol,
        "interval": interval,
        "open_time": timestamp_ms(record, "startTime"),
        "open_price": number(record, "open", positive=True),
        "high_price": number(record, "high", positive=True),
        "low_price": number(record, "low", positive=True),
        "close_price": number(record, "close", positive=True),
        "volume_base": number(record, "volume", non_negative=True),
        "volume_quote": number(record, "turnover", non_negative=True),
        "_source": source_uri,
    }


def parse_open_interest_page(
    payload: bytes, symbol: str, source_uri: str, *, bounds: TimeBounds | None = None
) -> ParseResult:
    """A `/v5/market/open-interest` body -> OPEN_INTEREST rows (base coin)."""
    return _open_interest_rows(result_of(payload, source_uri), symbol, source_uri, bounds)


def _open_interest_rows(
    body: Mapping, symbol: str, source_uri: str, bounds: TimeBounds | None
) -> ParseResult:
    _same_symbol(body["result"], symbol)
    collector = _collector(OPEN_INTEREST, "open_interest", "snapshot_at", source_uri, bounds)
    for item in _items(body, source_uri):
        build = functools.partial(_open_interest_row, item, symbol, source_uri)
        hint = functools.partial(time_hint, item, "timestamp", timestamp_ms)
        collector.add(raw_json(item), build, hint)
    return collector.result()


def _open_interest_row(item: object, symbol: str, source_uri: str) -> dict:
    record = _object(item)
    return {
        "symbol": symbol,
        "snapshot_at": timestamp_ms(record, "timestamp"),
        "open_interest_base": number(record, "openInterest", non_negative=True),
        "single_open_interest_base": number(
            record, "singleOpenInterest", non_negative=True, optional=True
        ),
        "_source": source_uri,
    }


def parse_funding_page(
    payload: bytes, symbol: str, source_uri: str, *, bounds: TimeBounds | None = None
) -> ParseResult:
    """A `/v5/market/funding/history` body -> FUNDING rows."""
    return _funding_rows(result_of(payload, source_uri), symbol, source_uri, bounds)


def _funding_rows(
    body: Mapping, symbol: str, source_uri: str, bounds: TimeBounds | None
) -> ParseResult:
    collector = _collector(FUNDING, "funding", "funding_time", source_uri, bounds)
    for item in _items(body, source_uri):
        build = functools.partial(_funding_row, item, symbol, source_uri)
        hint = functools.partial(time_hint, item, "fundingRateTimestamp", timestamp_ms)
        collector.add(raw_json(item), build, hint)
    return collector.result()


def _funding_row(item: object, symbol: str, source_uri: str) -> dict:
    record = _object(item)
    found = plain_symbol(text(record, "symbol"))
    if found != symbol:
        raise RowError(f"symbol {found!r} does not match the requested symbol {symbol!r}")
    return {
        "symbol": symbol,
        "funding_time": timestamp_ms(record, "fundingRateTimestamp"),
        "funding_rate": number(record, "fundingRate"),
        "_source": source_uri,
    }


def parse_instruments_page(payload: bytes, source_uri: str) -> ParseResult:
    """A `/v5/market/instruments-info` body (category=linear) -> INSTRUMENTS rows."""
    return _instrument_rows(result_of(payload, source_uri), source_uri)


def _instrument_rows(body: Mapping, source_uri: str) -> ParseResult:
    snapshot_ms = _server_time_ms(body, source_uri)
    collector = _collector(INSTRUMENTS, "instruments", "snapshot_at", source_uri, None)
    for item in _items(body, source_uri):
        build = functools.partial(_instrument_row, item, snapshot_ms, source_uri)
        collector.add(raw_json(item), build)
    return collector.result()


def _instrument_row(item: object, snapshot_ms: int, source_uri: str) -> dict:
    record = _object(item)
    symbol = text(record, "symbol")
    if not _INSTRUMENT_SYMBOL.fullmatch(symbol):
        raise RowError(f"symbol {symbol!r} is not a plain instrument name")
    lot, price = _object_field(record, "lotSizeFilter"), _object_field(record, "priceFilter")
    delivery = integer(record, "deliveryTime", non_negative=True, optional=True)
    return {
        "symbol": symbol,
        "contract_type": text(record, "contractType"),
        "status": text(record, "status"),
        "base_coin": text(record, "baseCoin"),
        "quote_coin": text(record, "quoteCoin"),
        "settle_coin": text(record, "settleCoin"),
        "launch_time": timestamp_ms(record, "launchTime"),
        "delivery_time": timestamp_ms(record, "deliveryTime") if delivery else None,
        "funding_interval_minutes": integer(
            record, "fundingInterval", non_negative=True, optional=True
        ),
        "tick_size": number(price, "tickSize", positive=True),
        "qty_step": number(lot, "qtyStep", positive=True),
        "min_order_qty": number(lot, "minOrderQty", positive=True),
        "max_order_qty": number(lot, "maxOrderQty", positive=True),
        "snapshot_at": snapshot_ms,
        "_source": source_uri,
    }


def parse_liquidation_message(
    text_: str,
    received_at_ms: int | None,
    source_uri: str,
    *,
    bounds: TimeBounds | None = None,
) -> ParseResult:
    """One `allLiquidation.{symbol}` websocket message -> LIQUIDATIONS rows (one per event)."""
    collector = _collector(LIQUIDATIONS, "liquidations", "trade_time", source_uri, bounds)
    _add_liquidation_message(collector, text_, received_at_ms)
    return collector.result()


def _add_liquidation_message(
    collector: RowCollector, text_: str, received_at_ms: int | None
) -> None:
    try:
        message = json.loads(text_)
    except json.JSONDecodeError as exc:
        collector.settle_bad(text_, f"malformed JSON: {exc}", None)
        return
    if isinstance(message, dict) and "op" in message and "topic" not in message:
        log.debug("skipping websocket control frame %s", text_)
        return
    topic = message.get("topic") if isinstance(message, dict) else None
    if not isinstance(topic, str) or not topic.startswith(LIQUIDATION_STREAM + "."):
        collector.settle_bad(text_, f"not an {LIQUIDATION_STREAM} message (topic {topic!r})", None)
        return
    events = message.get("data")
    if not isinstance(events, list):
        collector.settle_bad(text_, "'data' is not an array of liquidations", None)
        return
    topic_symbol = topic.partition(".")[2]
    repeats = RepeatCounter()
    for event in events:
        build = functools.partial(
            _liquidation_row,
            event,
            message,
            topic_symbol,
            received_at_ms,
            repeats.next(event),
            collector.source_uri,
        )
        collector.add(text_, build, functools.partial(time_hint, event, "T", timestamp_ms))


def _liquidation_row(
    event: object,
    message: Mapping,
    topic_symbol: str,
    received_at_ms: int | None,
    repeat_index: int,
    source_uri: str,
) -> dict:
    record = _object(event)
    symbol = plain_symbol(text(record, "s"))
    if symbol != topic_symbol:
        raise RowError(f"symbol {symbol!r} does not match the topic's {topic_symbol!r}")
    return {
        "symbol": symbol,
        "side": text(record, "S", choices=POSITION_SIDES),
        "executed_qty": number(record, "v", positive=True),
        "bankruptcy_price": number(record, "p", positive=True),
        "trade_time": timestamp_ms(record, "T"),
        "event_time": timestamp_ms(message, "ts"),
        "received_at": received_at_ms,
        "repeat_index": repeat_index,
        "_source": source_uri,
    }


# ------------------------------------------------------------------------------ fetchers


def fetch_klines(
    transport: Transport,
    symbol: str,
    interval: str,
    start: date,
    end: date,
    *,
    rest_base: str = REST_BASE,
) -> ParseResult:
    """Finished candles of `symbol` at `interval` ("1h", "1d", ...) opening in `[start, end)`."""
    symbol = require_symbol(symbol)
    if interval not in KLINE_INTERVALS:
        raise ValueError(f"unsupported kline interval {interval!r}; one of {list(KLINE_INTERVALS)}")
    bybit_interval, length_ms = KLINE_INTERVALS[interval]
    results = _page_spans(
        transport,
        rest_base + KLINE_PATH,
        {"category": CATEGORY, "symbol": symbol, "interval": bybit_interval},
        window_ms(start, end),
        ("start", "end"),
        KLINE_LIMIT,
        length_ms,
        functools.partial(_kline_rows, symbol=symbol, interval=interval),
        "open_time",
    )
    return _finish(results, KLINES, "klines", ("symbol", "interval", "open_time"), symbol)


def fetch_open_interest(
    transport: Transport,
    symbol: str,
    start: date,
    end: date,
    *,
    rest_base: str = REST_BASE,
) -> ParseResult:
    """5-minute open interest snapshots of `symbol` taken in `[start, end)` (cursor paging)."""
    symbol = require_symbol(symbol)
    keep = window_ms(start, end)
    params = {
        "category": CATEGORY,
        "symbol": symbol,
        "intervalTime": OPEN_INTEREST_INTERVAL,
        "startTime": keep[0],
        "endTime": keep[1] - 1,
        "limit": OPEN_INTEREST_LIMIT,
    }
    parse = functools.partial(_open_interest_rows, symbol=symbol, bounds=_rest_bounds(keep))
    results = _page_cursor(transport, rest_base + OPEN_INTEREST_PATH, params, parse)
    return _finish(results, OPEN_INTEREST, "open_interest", ("symbol", "snapshot_at"), symbol)


def fetch_funding(
    transport: Transport,
    symbol: str,
    start: date,
    end: date,
    *,
    rest_base: str = REST_BASE,
) -> ParseResult:
    """Funding settlements of `symbol` in `[start, end)`, walked backwards by `endTime`."""
    symbol = require_symbol(symbol)
    results = _page_spans(
        transport,
        rest_base + FUNDING_HISTORY_PATH,
        {"category": CATEGORY, "symbol": symbol},
        window_ms(start, end),
        ("startTime", "endTime"),
        FUNDING_LIMIT,
        MIN_FUNDING_INTERVAL_MS,
        functools.partial(_funding_rows, symbol=symbol),
        "funding_time",
    )
    return _finish(results, FUNDING, "funding", ("symbol", "funding_time"), symbol)


def fetch_instruments(transport: Transport, *, rest_base: str = REST_BASE) -> ParseResult:
    """Every linear contract Bybit lists now (perpetual and dated), one row per symbol."""
    params = {"category": CATEGORY, "limit": INSTRUMENTS_LIMIT}
    results = _page_cursor(transport, rest_base + INSTRUMENTS_PATH, params, _instrument_rows)
    return _finish(results, INSTRUMENTS, "instruments", ("symbol",), "all")


def read_liquidations(replay_root: Path, start: date, end: date) -> ParseResult:
    """Recorded `allLiquidation` messages whose trade time `T` lies in `[start, end)` (see
    `common.recorded_segments` for how segments around the window are read)."""
    return read_recorded_stream(
        replay_root, VENUE, LIQUIDATION_STREAM, start, end, LIQUIDATIONS, _read_segment
    )


def _read_segment(segment: RecordedSegment) -> ParseResult:
    collector = _collector(
        LIQUIDATIONS, "liquidations", "trade_time", segment.source_uri, segment.bounds
    )
    for message in segment.messages:
        _add_liquidation_message(collector, message.text, message.received_at_ms)
    return collector.result([segment.payload])


# ------------------------------------------------------------------------------- paging

BodyParser = Callable[..., ParseResult]


def _rest_bounds(keep: tuple[int, int]) -> TimeBounds:
    """Rows just outside the window (a sloppy overlap) are skipped; far outside, rejected."""
    return TimeBounds.of(keep, (keep[0] - REST_MARGIN_MS, keep[1] + REST_MARGIN_MS))


def _get_body(transport: Transport, url: str, params: dict) -> tuple[Response, dict]:
    response = transport.get(url, params)
    if response.status >= 400:
        _raise_error_body(response)
        raise TransportError(f"HTTP {response.status} from {response.source_uri}")
    return response, result_of(response.body, response.source_uri)


def _raise_error_body(response: Response) -> None:
    """An HTTP error that carries Bybit's envelope raises its `retCode` and `retMsg`."""
    try:
        body = json.loads(response.body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return
    if isinstance(body, dict) and body.get("retCode") not in (None, 0):
        message = str(body.get("retMsg", ""))
        raise ExchangeAPIError(VENUE, body["retCode"], message, response.source_uri)


def _page_spans(
    transport: Transport,
    url: str,
    params: dict,
    keep: tuple[int, int],
    range_keys: tuple[str, str],
    limit: int,
    spacing_ms: int,
    parse_body: BodyParser,
    time_column: str,
) -> list[ParseResult]:
    """Page a time-windowed, newest-first endpoint over `keep`, backwards from its end.

    The window is cut into spans of at most `limit` rows at the endpoint's finest `spacing_ms`
    and each span is asked for with both bounds (`range_keys`, inclusive). A page shorter than
    `limit` holds everything in its range. A full page (a server filling from either end, or
    capping) leaves the part of its range it did not reach, which is asked for next; overlap
    is removed later by `dedupe_on_key`.
    """
    bounds = _rest_bounds(keep)
    pages = []
    span_until = keep[1]
    while span_until > keep[0]:
        span_from = max(span_until - limit * spacing_ms, keep[0])
        pending = [(span_from, span_until - 1)]
        while pending:
            first, last = pending.pop()
            query = {**params, range_keys[0]: first, range_keys[1]: last, "limit": limit}
            response, body = _get_body(transport, url, query)
            page = parse_body(body, source_uri=response.source_uri, bounds=bounds)
            pages.append(replace(page, sources=[source_payload(response)]))
            items = len(_items(body, response.source_uri))
            log.info(
                "bybit %s %s: %d items -> %d rows, %d rejects",
                url.rsplit("/", 1)[-1],
                query,
                items,
                page.table.num_rows,
                len(page.rejects),
            )
            if items >= limit:
                pending.extend(_unreached(page, time_column, first, last, spacing_ms, response))
        span_until = span_from
    return pages


def _unreached(
    page: ParseResult, time_column: str, first: int, last: int, spacing_ms: int, response: Response
) -> list[tuple[int, int]]:
    """The parts of `[first, last]` a full page did not reach, where rows may still be."""
    times = [t for t in _times(page, time_column) if first <= t <= last]
    if not times:
        raise PagingError(f"full page without a row in its range: {response.source_uri}")
    gaps = []
    if min(times) - spacing_ms >= first:
        gaps.append((first, min(times) - 1))
    if max(times) + spacing_ms <= last:
        gaps.append((max(times) + 1, last))
    return gaps


def _page_cursor(
    transport: Transport, url: str, params: dict, parse_body: BodyParser
) -> list[ParseResult]:
    """Follow `nextPageCursor` until Bybit returns none (or an empty page)."""
    pages, seen, cursor = [], set(), None
    while True:
        query = dict(params) if cursor is None else {**params, "cursor": cursor}
        response, body = _get_body(transport, url, query)
        page = parse_body(body, source_uri=response.source_uri)
        pages.append(replace(page, sources=[source_payload(response)]))
        items = len(_items(body, response.source_uri))
        log.info(
            "bybit %s page %d: %d items -> %d rows, %d rejects",
            url.rsplit("/", 1)[-1],
            len(pages),
            items,
            page.table.num_rows,
            len(page.rejects),
        )
        cursor = _next_cursor(body)
        if cursor is None or items == 0:
            return pages
        if cursor in seen:
            raise PagingError(f"cursor {cursor!r} repeated: {response.source_uri}")
        seen.add(cursor)


# ------------------------------------------------------------------------------ helpers


def _collector(schema, dataset: str, time_column: str, source_uri: str, bounds) -> RowCollector:
    return RowCollector(schema, VENUE, dataset, time_column, source_uri, bounds)


def _object(item: object) -> Mapping[str, object]:
    if not isinstance(item, dict):
        raise RowError(f"expected a JSON object, got {type(item).__name__}")
    return item


def _object_field(record: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = record.get(key)
    if not isinstance(value, dict):
        raise RowError(f"field {key!r} is not an object")
    return value


def _same_symbol(result: Mapping, symbol: str) -> None:
    """Kline and open-interest pages name their symbol once, in `result.symbol`."""
    found = result.get("symbol")
    if found is not None and found != symbol:
        raise PayloadFormatError(f"page is for {found!r}, not the requested {symbol!r}")


def _times(page: ParseResult, time_column: str) -> list[int]:
    return page.table.column(time_column).cast("int64").to_pylist()


def _finish(
    results: list[ParseResult], schema, dataset: str, key: tuple[str, ...], symbol: str
) -> ParseResult:
    result = dedupe_on_key(ParseResult.concat(results, schema), key, VENUE, dataset)
    log.info(
        "bybit %s %s: %d rows, %d rejects from %d payloads",
        dataset,
        symbol,
        result.table.num_rows,
        len(result.rejects),
        len(result.sources),
    )
    return result
