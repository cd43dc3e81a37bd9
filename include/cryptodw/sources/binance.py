"""Binance USD-M futures: klines, open interest, funding and liquidations as raw tables.

Two routes serve the same datasets (see EXCHANGES.md §1.1 and §1.1.1):

* the bulk archive on data.binance.vision: daily klines and metrics zips, monthly fundingRate
  zips (header row optional; a missing file is an error, never an empty result);
* the REST API on fapi.binance.com: `/fapi/v1/klines`, `/futures/data/openInterestHist`,
  `/fapi/v1/fundingRate`, paged forward and de-duplicated on (symbol, time).

Liquidations come only from the `forceOrder` websocket stream, recorded in segment files
(`transport.iter_ws_messages`). Raw rows keep Binance's semantics: `order_side` is the side of
the forced ORDER (SELL closes a long), quantities are base coin and values USDT.

Every fetch takes a window `[start, end)` of UTC days and returns only rows inside it; rows a
payload cannot contain are rejected with their reason (see `common`). All I/O goes through the
`Transport`, so replaying retained payloads runs exactly this code.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from include.cryptodw.schemas import FUNDING, KLINES, LIQUIDATIONS, OPEN_INTEREST
from include.cryptodw.sources.common import (
    DAY_MS,
    ExchangeAPIError,
    PagingError,
    ParseResult,
    PayloadFormatError,
    RecordedSegment,
    RowCollector,
    RowError,
    TimeBounds,
    csv_records,
    csv_text,
    day_start_ms,
    days_between,
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
    PayloadNotFound,
    Response,
    Transport,
    TransportError,
)

log = logging.getLogger(__name__)

VENUE = "binance"
ARCHIVE_BASE = "https://data.binance.vision"
REST_BASE = "https://fapi.binance.com"
ROUTES = ("archive", "rest")

KLINES_PATH = "/fapi/v1/klines"
OPEN_INTEREST_HIST_PATH = "/futures/data/openInterestHist"
FUNDING_RATE_PATH = "/fapi/v1/fundingRate"
KLINES_LIMIT = 1500
OPEN_INTEREST_LIMIT = 500
FUNDING_LIMIT = 1000
OPEN_INTEREST_PERIOD = "5m"
FORCE_ORDER_STREAM = "forceOrder"

INTERVAL_MS = {
    "1m": 60_000,
    "3m": 3 * 60_000,
    "5m": 5 * 60_000,
    "15m": 15 * 60_000,
    "30m": 30 * 60_000,
    "1h": 3_600_000,
    "2h": 2 * 3_600_000,
    "4h": 4 * 3_600_000,
    "6h": 6 * 3_600_000,
    "8h": 8 * 3_600_000,
    "12h": 12 * 3_600_000,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": 7 * DAY_MS,
}
# Funding settles at most hourly: a request spanning `limit` hours cannot be truncated.
MIN_FUNDING_INTERVAL_MS = 3_600_000
# REST rows this close outside the requested window are overlap, not bad input.
REST_MARGIN_MS = DAY_MS
# Archive funding times may run a few ms past the hour; allow that much beyond the month.
FUNDING_SLACK_MS = 60_000

KLINE_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
METRICS_COLUMNS = (
    "create_time",
    "symbol",
    "sum_open_interest",
    "sum_open_interest_value",
    "count_toptrader_long_short_ratio",
    "sum_toptrader_long_short_ratio",
    "count_long_short_ratio",
    "sum_taker_long_short_vol_ratio",
)
FUNDING_COLUMNS = ("calc_time", "funding_interval_hours", "last_funding_rate")
ORDER_SIDES = frozenset({"BUY", "SELL"})

# ----------------------------------------------------------------------------- URLs


def kline_archive_url(symbol: str, interval: str, day: date, base: str = ARCHIVE_BASE) -> str:
    """Daily klines zip, e.g. .../daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-03-01.zip."""
    name = f"{symbol}-{interval}-{day.isoformat()}.zip"
    return f"{base}/data/futures/um/daily/klines/{symbol}/{interval}/{name}"


def metrics_archive_url(symbol: str, day: date, base: str = ARCHIVE_BASE) -> str:
    """Daily metrics zip (5-minute open interest and ratios)."""
    return f"{base}/data/futures/um/daily/metrics/{symbol}/{symbol}-metrics-{day.isoformat()}.zip"


def funding_archive_url(symbol: str, month: date, base: str = ARCHIVE_BASE) -> str:
    """Monthly fundingRate zip (there are no daily funding files)."""
    name = f"{symbol}-fundingRate-{month:%Y-%m}.zip"
    return f"{base}/data/futures/um/monthly/fundingRate/{symbol}/{name}"


# -------------------------------------------------------------------------- parsers


def parse_kline_csv(
    payload: bytes,
    symbol: str,
    interval: str,
    source_uri: str,
    *,
    bounds: TimeBounds | None = None,
) -> ParseResult:
    """An archive klines file (zip or bare CSV, header optional) -> KLINES rows."""
    collector = _collector(KLINES, "klines", "open_time", source_uri, bounds)
    for line, record in csv_records(csv_text(payload, source_uri), KLINE_COLUMNS, source_uri):
        build = functools.partial(_kline_row, record, symbol, interval, source_uri)
        collector.add(line, build, functools.partial(time_hint, record, "open_time", timestamp_ms))
    return collector.result()


def parse_klines_json(
    payload: bytes,
    symbol: str,
    interval: str,
    source_uri: str,
    *,
    bounds: TimeBounds | None = None,
) -> ParseResult:
    """A `/fapi/v1/klines` body (array of 12-element arrays) -> KLINES rows."""
    items = _json_list(payload, source_uri)
    return _kline_items(items, symbol, interval, source_uri, bounds)


def _kline_items(
    items: list, symbol: str, interval: str, source_uri: str, bounds: TimeBounds | None
) -> ParseResult:
    collector = _collector(KLINES, "klines", "open_time", source_uri, bounds)
    for item in items:
        if isinstance(item, list) and len(item) == len(KLINE_COLUMNS):
            record: dict | RowError = dict(zip(KLINE_COLUMNS, item, strict=True))
        else:
            record = RowError(f"expected an array of {len(KLINE_COLUMNS)} kline fields")
        build = functools.partial(_kline_row, record, symbol, interval, source_uri)
        hint = functools.partial(time_hint, record, "open_time", timestamp_ms)
        collector.add(raw_json(item), build, hint)
    return collector.result()


def _kline_row(
    record: Mapping[str, object] | RowError, symbol: str, interval: str, source_uri: str
) -> dict:
    record = _record(record)
    open_time = timestamp_ms(record, "open_time")
    close_time = timestamp_ms(record, "close_time")
    if close_time <= open_time:
        raise RowError(f"close_time {close_time} is not after open_time {open_time}")
    return {
        "symbol": symbol,
        "interval": interval,
        "open_time": open_time,
        "close_time": close_time,
        "open_price": number(record, "open", positive=True),
        "high_price": number(record, "high", positive=True),
        "low_price": number(record, "low", positive=True),
        "close_price": number(record, "close", positive=True),
        "volume_base": number(record, "volume", non_negative=True),
        "volume_quote": number(record, "quote_volume", non_negative=True),
        "trade_count": integer(record, "count", non_negative=True),
        "taker_buy_volume_base": number(record, "taker_buy_volume", non_negative=True),
        "taker_buy_volume_quote": number(record, "taker_buy_quote_volume", non_negative=True),
        "_source": source_uri,
    }


def parse_metrics_csv(
    payload: bytes, symbol: str, source_uri: str, *, bounds: TimeBounds | None = None
) -> ParseResult:
    """An archive metrics file -> OPEN_INTEREST rows (base coin and USDT, 5-minute)."""
    collector = _collector(OPEN_INTEREST, "open_interest", "snapshot_at", source_uri, bounds)
    for line, record in csv_records(csv_text(payload, source_uri), METRICS_COLUMNS, source_uri):
        build = functools.partial(_metrics_row, record, symbol, source_uri)
        collector.add(
            line, build, functools.partial(time_hint, record, "create_time", _datetime_ms)
        )
    return collector.result()


def _metrics_row(record: Mapping[str, str] | RowError, symbol: str, source_uri: str) -> dict:
    record = _record(record)
    _same_symbol(record, "symbol", symbol)
    return {
        "symbol": symbol,
        "snapshot_at": _datetime_ms(record, "create_time"),
        "open_interest_base": number(record, "sum_open_interest", positive=True),
        "open_interest_quote": number(
            record, "sum_open_interest_value", positive=True, optional=True
        ),
        "_source": source_uri,
    }


def parse_open_interest_hist_json(
    payload: bytes, symbol: str, source_uri: str, *, bounds: TimeBounds | None = None
) -> ParseResult:
    """A `/futures/data/openInterestHist` body -> OPEN_INTEREST rows."""
    return _open_interest_items(_json_list(payload, source_uri), symbol, source_uri, bounds)


def _open_interest_items(
    items: list, symbol: str, source_uri: str, bounds: TimeBounds | None
) -> ParseResult:
    collector = _collector(OPEN_INTEREST, "open_interest", "snapshot_at", source_uri, bounds)
    for item in items:
        build = functools.partial(_oi_hist_row, item, symbol, source_uri)
        collector.add(
            raw_json(item), build, functools.partial(time_hint, item, "timestamp", timestamp_ms)
        )
    return collector.result()


def _oi_hist_row(item: object, symbol: str, source_uri: str) -> dict:
    record = _object(item)
    _same_symbol(record, "symbol", symbol)
    return {
        "symbol": symbol,
        "snapshot_at": timestamp_ms(record, "timestamp"),
        "open_interest_base": number(record, "sumOpenInterest", positive=True),
        "open_interest_quote": number(record, "sumOpenInterestValue", positive=True),
        "_source": source_uri,
    }


def parse_funding_csv(
    payload: bytes, symbol: str, source_uri: str, *, bounds: TimeBounds | None = None
) -> ParseResult:
    """An archive monthly fundingRate file -> FUNDING rows (interval hours, no mark price)."""
    collector = _collector(FUNDING, "funding", "funding_time", source_uri, bounds)
    for line, record in csv_records(csv_text(payload, source_uri), FUNDING_COLUMNS, source_uri):
        build = functools.partial(_funding_csv_row, record, symbol, source_uri)
        collector.add(line, build, functools.partial(time_hint, record, "calc_time", timestamp_ms))
    return collector.result()


def _funding_csv_row(record: Mapping[str, str] | RowError, symbol: str, source_uri: str) -> dict:
    record = _record(record)
    hours = integer(record, "funding_interval_hours")
    if hours <= 0:
        raise RowError(f"field 'funding_interval_hours' must be > 0, got {hours}")
    return {
        "symbol": symbol,
        "funding_time": timestamp_ms(record, "calc_time"),
        "funding_rate": number(record, "last_funding_rate"),
        "funding_interval_hours": hours,
        "mark_price": None,
        "_source": source_uri,
    }


def parse_funding_json(
    payload: bytes, symbol: str, source_uri: str, *, bounds: TimeBounds | None = None
) -> ParseResult:
    """A `/fapi/v1/fundingRate` body -> FUNDING rows (mark price, no interval hours)."""
    return _funding_items(_json_list(payload, source_uri), symbol, source_uri, bounds)


def _funding_items(
    items: list, symbol: str, source_uri: str, bounds: TimeBounds | None
) -> ParseResult:
    collector = _collector(FUNDING, "funding", "funding_time", source_uri, bounds)
    for item in items:
        build = functools.partial(_funding_json_row, item, symbol, source_uri)
        hint = functools.partial(time_hint, item, "fundingTime", timestamp_ms)
        collector.add(raw_json(item), build, hint)
    return collector.result()


def _funding_json_row(item: object, symbol: str, source_uri: str) -> dict:
    record = _object(item)
    _same_symbol(record, "symbol", symbol)
    if "markPrice" not in record:
        raise RowError("missing field 'markPrice'")
    return {
        "symbol": symbol,
        "funding_time": timestamp_ms(record, "fundingTime"),
        "funding_rate": number(record, "fundingRate"),
        "funding_interval_hours": None,
        # Nullable in FUNDING: an empty value is kept as NULL, a non-number is rejected.
        "mark_price": number(record, "markPrice", positive=True, optional=True),
        "_source": source_uri,
    }


def parse_force_order(
    text_: str,
    received_at_ms: int | None,
    source_uri: str,
    *,
    bounds: TimeBounds | None = None,
) -> ParseResult:
    """One websocket message (raw `forceOrder` event or combined-stream wrapper) -> rows."""
    collector = _collector(LIQUIDATIONS, "liquidations", "trade_time", source_uri, bounds)
    _add_force_order(collector, text_, received_at_ms)
    return collector.result()


def _add_force_order(collector: RowCollector, text_: str, received_at_ms: int | None) -> None:
    try:
        message = json.loads(text_)
    except json.JSONDecodeError as exc:
        collector.settle_bad(text_, f"malformed JSON: {exc}", None)
        return
    if isinstance(message, dict) and "stream" in message and "data" in message:
        message = message["data"]
    if isinstance(message, dict) and "result" in message and "id" in message:
        log.debug("skipping websocket control frame %s", text_)
        return
    events = message if isinstance(message, list) else [message]
    for event in events:
        build = functools.partial(_force_order_row, event, received_at_ms, collector.source_uri)
        collector.add(text_, build, functools.partial(_force_order_time, event))


def _force_order_time(event: object) -> int | None:
    order = event.get("o") if isinstance(event, dict) else None
    return time_hint(order, "T", timestamp_ms)


def _force_order_row(event: object, received_at_ms: int | None, source_uri: str) -> dict:
    record = _object(event)
    if record.get("e") != FORCE_ORDER_STREAM:
        raise RowError(f"not a forceOrder event (e={record.get('e')!r})")
    order = record.get("o")
    if not isinstance(order, dict):
        raise RowError("missing order object 'o'")
    original_qty = number(order, "q", positive=True)
    filled_qty = number(order, "z", positive=True)
    if filled_qty > original_qty:
        raise RowError(f"filled quantity {filled_qty} exceeds the order quantity {original_qty}")
    return {
        "symbol": plain_symbol(text(order, "s")),
        "order_side": text(order, "S", choices=ORDER_SIDES),
        "order_type": text(order, "o"),
        "time_in_force": text(order, "f"),
        "order_status": text(order, "X"),
        "original_qty": original_qty,
        "last_filled_qty": number(order, "l", non_negative=True),
        "filled_qty": filled_qty,
        "order_price": number(order, "p", positive=True),
        "avg_price": number(order, "ap", positive=True),
        "trade_time": timestamp_ms(order, "T"),
        "event_time": timestamp_ms(record, "E"),
        "received_at": received_at_ms,
        "_source": source_uri,
    }


# ------------------------------------------------------------------------- fetchers


def fetch_klines(
    transport: Transport,
    symbol: str,
    interval: str,
    start: date,
    end: date,
    via: str,
    *,
    archive_base: str = ARCHIVE_BASE,
    rest_base: str = REST_BASE,
) -> ParseResult:
    """Klines of `symbol` at `interval` whose open time lies in `[start, end)`."""
    symbol, via = require_symbol(symbol), _route(via)
    if interval not in INTERVAL_MS:
        raise ValueError(f"unsupported kline interval {interval!r}; one of {sorted(INTERVAL_MS)}")
    keep = window_ms(start, end)
    if via == "archive":
        results = [
            _archive_file(
                transport,
                kline_archive_url(symbol, interval, day, archive_base),
                TimeBounds.of(keep, (day_start_ms(day), day_start_ms(day) + DAY_MS)),
                functools.partial(parse_kline_csv, symbol=symbol, interval=interval),
            )
            for day in days_between(start, end)
        ]
    else:
        results = _page_forward(
            transport,
            rest_base + KLINES_PATH,
            {"symbol": symbol, "interval": interval},
            keep,
            KLINES_LIMIT,
            INTERVAL_MS[interval],
            functools.partial(_kline_items, symbol=symbol, interval=interval),
            "open_time",
        )
    return _finish(results, KLINES, "klines", ("symbol", "interval", "open_time"), symbol)


def fetch_open_interest(
    transport: Transport,
    symbol: str,
    start: date,
    end: date,
    via: str,
    *,
    archive_base: str = ARCHIVE_BASE,
    rest_base: str = REST_BASE,
) -> ParseResult:
    """5-minute open interest snapshots of `symbol` taken in `[start, end)`.

    Archive metrics files labelled by period end hold `00:05 .. 24:00` of their day (the next
    day's 00:00 snapshot is in the previous day's file; binance-public-data#491), so the file of
    the day before the window is read too, when it exists.
    """
    symbol, via = require_symbol(symbol), _route(via)
    keep = window_ms(start, end)
    if via == "rest":
        results = _page_forward(
            transport,
            rest_base + OPEN_INTEREST_HIST_PATH,
            {"symbol": symbol, "period": OPEN_INTEREST_PERIOD},
            keep,
            OPEN_INTEREST_LIMIT,
            INTERVAL_MS[OPEN_INTEREST_PERIOD],
            functools.partial(_open_interest_items, symbol=symbol),
            "snapshot_at",
        )
        return _finish(results, OPEN_INTEREST, "open_interest", ("symbol", "snapshot_at"), symbol)
    parse = functools.partial(parse_metrics_csv, symbol=symbol)
    results = []
    for day in days_between(start - timedelta(days=1), end):
        # A day's file may hold the next day's 00:00 snapshot, never anything later.
        expect = (day_start_ms(day), day_start_ms(day) + DAY_MS + 1)
        url = metrics_archive_url(symbol, day, archive_base)
        bounds = TimeBounds.of(keep, expect, owned=day >= start)
        if day < start:
            results.extend(_optional_archive_file(transport, url, bounds, parse))
        else:
            results.append(_archive_file(transport, url, bounds, parse))
    return _finish(results, OPEN_INTEREST, "open_interest", ("symbol", "snapshot_at"), symbol)


def fetch_funding(
    transport: Transport,
    symbol: str,
    start: date,
    end: date,
    via: str,
    *,
    archive_base: str = ARCHIVE_BASE,
    rest_base: str = REST_BASE,
) -> ParseResult:
    """Funding settlements of `symbol` in `[start, end)` (monthly archive files or REST)."""
    symbol, via = require_symbol(symbol), _route(via)
    keep = window_ms(start, end)
    if via == "archive":
        results = []
        for month in _months(start, end):
            expect = (
                day_start_ms(month) - FUNDING_SLACK_MS,
                day_start_ms(_next_month(month)) + FUNDING_SLACK_MS,
            )
            results.append(
                _archive_file(
                    transport,
                    funding_archive_url(symbol, month, archive_base),
                    TimeBounds.of(keep, expect),
                    functools.partial(parse_funding_csv, symbol=symbol),
                )
            )
    else:
        results = _page_forward(
            transport,
            rest_base + FUNDING_RATE_PATH,
            {"symbol": symbol},
            keep,
            FUNDING_LIMIT,
            MIN_FUNDING_INTERVAL_MS,
            functools.partial(_funding_items, symbol=symbol),
            "funding_time",
        )
    return _finish(results, FUNDING, "funding", ("symbol", "funding_time"), symbol)


def read_liquidations(replay_root: Path, start: date, end: date) -> ParseResult:
    """Recorded `forceOrder` messages whose trade time lies in `[start, end)` (see
    `common.recorded_segments` for how segments around the window are read)."""
    return read_recorded_stream(
        replay_root, VENUE, FORCE_ORDER_STREAM, start, end, LIQUIDATIONS, _read_segment
    )


def _read_segment(segment: RecordedSegment) -> ParseResult:
    collector = _collector(
        LIQUIDATIONS, "liquidations", "trade_time", segment.source_uri, segment.bounds
    )
    for message in segment.messages:
        _add_force_order(collector, message.text, message.received_at_ms)
    log.info(
        "binance liquidations: %s -> %d rows, %d rejects, %d outside the window",
        segment.source_uri,
        len(collector.rows),
        len(collector.rejects),
        collector.skipped,
    )
    return collector.result([segment.payload])


# -------------------------------------------------------------------------- helpers

PageParser = Callable[..., ParseResult]


def _route(via: str) -> str:
    if via not in ROUTES:
        raise ValueError(f"via must be one of {ROUTES}, not {via!r}")
    return via


def _collector(schema, dataset: str, time_column: str, source_uri: str, bounds) -> RowCollector:
    return RowCollector(schema, VENUE, dataset, time_column, source_uri, bounds)


def _record(record: Mapping[str, object] | RowError) -> Mapping[str, object]:
    """A CSV record, or raise the reason it could not be split into fields."""
    if isinstance(record, RowError):
        raise record
    return record


def _object(item: object) -> Mapping[str, object]:
    if not isinstance(item, dict):
        raise RowError(f"expected a JSON object, got {type(item).__name__}")
    return item


def _same_symbol(record: Mapping[str, object], key: str, symbol: str) -> None:
    found = plain_symbol(text(record, key))
    if found != symbol:
        raise RowError(f"{key} {found!r} does not match the requested symbol {symbol!r}")


def _datetime_ms(record: Mapping[str, object], key: str) -> int:
    """Archive `create_time`: "YYYY-MM-DD HH:MM:SS" (UTC); epoch milliseconds also accepted."""
    value = text(record, key)
    if value.strip().isdigit():
        return timestamp_ms(record, key)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise RowError(f"field {key!r} is not a date-time: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _json_list(payload: bytes, source_uri: str) -> list:
    """A REST body that must be a JSON array; Binance's error object raises `ExchangeAPIError`."""
    body = decode_json(payload, source_uri)
    if isinstance(body, dict) and "code" in body and "msg" in body:
        raise ExchangeAPIError(VENUE, body["code"], str(body["msg"]), source_uri)
    if not isinstance(body, list):
        raise PayloadFormatError(f"body of {source_uri} is not a JSON array: {payload[:200]!r}")
    return body


def _months(start: date, end: date) -> list[date]:
    """First days of the calendar months that overlap `[start, end)`."""
    months, month = [], start.replace(day=1)
    while month < end:
        months.append(month)
        month = _next_month(month)
    return months


def _next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _get_archive_file(transport: Transport, url: str) -> Response:
    try:
        return transport.get(url)
    except PayloadNotFound as exc:
        name = url.rsplit("/", 1)[-1]
        raise PayloadNotFound(f"Binance archive file {name} is not available: {exc}") from exc


def _archive_file(
    transport: Transport, url: str, bounds: TimeBounds, parse: PageParser
) -> ParseResult:
    """Fetch and parse one archive file; its lineage is recorded with the rows."""
    response = _get_archive_file(transport, url)
    result = parse(response.body, source_uri=response.source_uri, bounds=bounds)
    log.info(
        "binance archive %s -> %d rows, %d rejects",
        url.rsplit("/", 1)[-1],
        result.table.num_rows,
        len(result.rejects),
    )
    return replace(result, sources=[source_payload(response)])


def _optional_archive_file(
    transport: Transport, url: str, bounds: TimeBounds, parse: PageParser
) -> list[ParseResult]:
    """Like `_archive_day` for a file that only may add rows (absent: nothing to add)."""
    try:
        result = _archive_file(transport, url, bounds, parse)
    except PayloadNotFound:
        log.info("binance archive %s not available; skipped (optional)", url.rsplit("/", 1)[-1])
        return []
    return [result] if result.table.num_rows or result.rejects else []


def _get_json_list(transport: Transport, url: str, params: dict) -> tuple[Response, list]:
    response = transport.get(url, params)
    if response.status >= 400:
        body = _error_body(response.body)
        if body is not None:
            raise ExchangeAPIError(VENUE, body["code"], str(body["msg"]), response.source_uri)
        raise TransportError(f"HTTP {response.status} from {response.source_uri}")
    return response, _json_list(response.body, response.source_uri)


def _error_body(payload: bytes) -> dict | None:
    try:
        body = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) and "code" in body and "msg" in body else None


def _page_forward(
    transport: Transport,
    url: str,
    params: dict,
    keep: tuple[int, int],
    limit: int,
    spacing_ms: int,
    parse_items: PageParser,
    time_column: str,
) -> list[ParseResult]:
    """Page a time-windowed endpoint forward over the window `keep`, without gaps.

    The window is cut into spans of at most `limit` rows at the endpoint's finest `spacing_ms`,
    so a page is never truncated whichever end Binance fills it from. Within a span, paging
    continues from the last row's time + 1 (Binance's `startTime` paging) until the rows reach
    the span's end or a page comes back empty: a server that caps pages below `limit` costs
    an extra request, not a gap. Overlapping rows are removed later by `dedupe_on_key`.
    """
    # Rows just outside the window (a sloppy overlap) are skipped; far outside, rejected.
    bounds = TimeBounds.of(keep, (keep[0] - REST_MARGIN_MS, keep[1] + REST_MARGIN_MS))
    pages = []
    span_from = keep[0]
    while span_from < keep[1]:
        span_until = min(span_from + limit * spacing_ms, keep[1])
        cursor = span_from
        while cursor < span_until:
            query = {**params, "startTime": cursor, "endTime": span_until - 1, "limit": limit}
            response, items = _get_json_list(transport, url, query)
            page = parse_items(items, source_uri=response.source_uri, bounds=bounds)
            pages.append(replace(page, sources=[source_payload(response)]))
            log.info(
                "binance %s %s: %d items -> %d rows, %d rejects",
                url.rsplit("/", 1)[-1],
                query,
                len(items),
                page.table.num_rows,
                len(page.rejects),
            )
            last = _last_time(page, time_column)
            if not items or (last is not None and last + spacing_ms >= span_until):
                break
            if last is None or last < cursor:
                if len(items) < limit:
                    break
                raise PagingError(f"full page without a later timestamp: {response.source_uri}")
            cursor = last + 1
        span_from = span_until
    return pages


def _last_time(page: ParseResult, time_column: str) -> int | None:
    times = page.table.column(time_column).cast("int64").to_pylist()
    return max(times) if times else None


def _finish(
    results: list[ParseResult], schema, dataset: str, key: tuple[str, ...], symbol: str
) -> ParseResult:
    result = dedupe_on_key(ParseResult.concat(results, schema), key, VENUE, dataset)
    log.info(
        "binance %s %s: %d rows, %d rejects from %d payloads",
        dataset,
        symbol,
        result.table.num_rows,
        len(result.rejects),
        len(result.sources),
    )
    return result
