"""OKX v5 perpetual swaps (`instType=SWAP`): candles, open interest, funding, instruments and
liquidations as raw tables (EXCHANGES.md §1.3).

REST (`https://www.okx.com`), every body an envelope `{"code", "msg", "data"}`; `code != "0"`
raises `ExchangeAPIError` with OKX's `msg`, except code 50011 ("Too Many Requests", with HTTP
429 or 200): that is a rate limit, retried with backoff by the live transport
(`rate_limit_reason`) and raised as the retryable `RateLimitedError` wherever a body is read.
The history endpoints answer newest first and are walked backwards from the window's end with
an "older than" cursor (`after`, or `end` for the rubik statistics), bounded below by the
window's start (`before` / `begin`):

* `/api/v5/market/history-candles`: `[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]`;
  `vol` is in CONTRACTS, `volCcy` base coin, `volCcyQuote` quote. Daily bars must be `1Dutc`
  (`1D` is aligned to UTC+8). A candle with `confirm` "0" is still open and does not land.
* `/api/v5/rubik/stat/contracts/open-interest-history`: `[ts, oi, oiCcy, oiUsd]` = contracts,
  coin, USD. OKX keeps only the latest 1,440 points per period (5 days at `5m`).
* `/api/v5/public/funding-rate-history`: `realizedRate` is the settled rate; `fundingRate`
  there is the PREDICTED one and is kept only as `predicted_rate`. About 3 months deep.
* `/api/v5/public/instruments?instType=SWAP`: `ctVal` × `ctMult` `ctValCcy` per contract,
  needed to turn contracts into coin (0.01 BTC for BTC-USDT-SWAP; never hard-code it).

Liquidations come from the websocket channel `liquidation-orders` (arg `instType=SWAP`),
recorded in segment files, and from the REST back-stop `/api/v5/public/liquidation-orders`
(`state=filled`, per `uly`, only about the last day). Both carry `details[]` with `side` = the
liquidation ORDER's side and `posSide` = the liquidated POSITION (`buy` + `short` = a short was
liquidated; in net mode `posSide` is `net` and `side` alone says it: sell = a long). `sz` is
in CONTRACTS and `bkPx` is the bankruptcy price. The same liquidation is often seen more than
once (re-pushed by the websocket, a stale first message after subscribing, every REST poll):
copies collapse (see `union_liquidations`).

Raw rows keep OKX's units; staging converts contracts with the instruments' `ctVal`. Every
fetch returns only rows inside the half-open window `[start, end)` of UTC days, de-duplicated
on (instrument, time). All I/O goes through the `Transport`.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

import pyarrow as pa

from include.cryptodw.lake.writer import SourcePayload
from include.cryptodw.sources.common import (
    DAY_MS,
    PLAUSIBLE_FROM_MS,
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
    number,
    raw_json,
    recorded_segments,
    source_payload,
    text,
    time_hint,
    timestamp_ms,
    window_ms,
)
from include.cryptodw.transport import (
    Response,
    RetryableHTTPError,
    Transport,
    TransportError,
)

log = logging.getLogger(__name__)

VENUE = "okx"
REST_BASE = "https://www.okx.com"
INST_TYPE = "SWAP"

CANDLES_PATH = "/api/v5/market/history-candles"
OPEN_INTEREST_PATH = "/api/v5/rubik/stat/contracts/open-interest-history"
FUNDING_HISTORY_PATH = "/api/v5/public/funding-rate-history"
INSTRUMENTS_PATH = "/api/v5/public/instruments"
LIQUIDATION_ORDERS_PATH = "/api/v5/public/liquidation-orders"
# Accepted by every documented version (2026 docs allow 300 candles / 400 funding rows; older
# docs and SDKs say 100). The pagers do not depend on the server filling pages to the limit.
CANDLES_LIMIT = 100
OPEN_INTEREST_LIMIT = 100
FUNDING_LIMIT = 100
LIQUIDATION_ORDERS_LIMIT = 100
LIQUIDATION_STREAM = "liquidation-orders"

# Our interval names -> OKX `bar`. Daily and longer bars must be the `utc` variants.
CANDLE_BARS = {"1m": "1m", "5m": "5m", "15m": "15m", "1h": "1H", "4h": "4H", "1d": "1Dutc"}
OPEN_INTEREST_PERIODS = frozenset(
    {"5m", "15m", "30m", "1H", "2H", "4H", "6Hutc", "12Hutc", "1Dutc"}
)
# REST rows this close before the requested window are overlap, not bad input.
REST_MARGIN_MS = DAY_MS

CANDLE_FIELDS = ("ts", "o", "h", "l", "c", "vol", "volCcy", "volCcyQuote", "confirm")
OPEN_INTEREST_FIELDS = ("ts", "oi", "oiCcy", "oiUsd")
ORDER_SIDES = frozenset({"buy", "sell"})
POSITION_SIDES = frozenset({"long", "short", "net"})
# OKX instrument ids and families: letters/digits groups joined by single '-' ("BTC-USDT-SWAP").
_INST_ID = re.compile(r"[^\W_]{1,20}(?:-[^\W_]{1,20}){1,4}")

# ------------------------------------------------------------------------------ schemas

TS = pa.timestamp("ms")

KLINES = pa.schema(
    [
        pa.field("inst_id", pa.string(), nullable=False),  # "BTC-USDT-SWAP"
        pa.field("interval", pa.string(), nullable=False),  # "1d", "1h" (bar "1Dutc", "1H")
        pa.field("open_time", TS, nullable=False),  # `ts`
        pa.field("open_price", pa.float64(), nullable=False),
        pa.field("high_price", pa.float64(), nullable=False),
        pa.field("low_price", pa.float64(), nullable=False),
        pa.field("close_price", pa.float64(), nullable=False),
        pa.field("volume_contracts", pa.float64(), nullable=False),  # `vol`
        pa.field("volume_base", pa.float64(), nullable=False),  # `volCcy`, base coin
        pa.field("volume_quote", pa.float64(), nullable=False),  # `volCcyQuote` (USDT, or USD)
        pa.field("_source", pa.string(), nullable=False),
    ]
)

OPEN_INTEREST = pa.schema(
    [
        pa.field("inst_id", pa.string(), nullable=False),
        pa.field("period", pa.string(), nullable=False),  # OKX `period`, e.g. "5m"
        pa.field("snapshot_at", TS, nullable=False),  # `ts`
        pa.field("open_interest_contracts", pa.float64(), nullable=False),  # `oi`
        pa.field("open_interest_coin", pa.float64(), nullable=False),  # `oiCcy`
        pa.field("open_interest_usd", pa.float64(), nullable=False),  # `oiUsd`
        pa.field("_source", pa.string(), nullable=False),
    ]
)

FUNDING = pa.schema(
    [
        pa.field("inst_id", pa.string(), nullable=False),
        pa.field("funding_time", TS, nullable=False),  # `fundingTime`
        pa.field("realized_rate", pa.float64(), nullable=False),  # settled, decimal per interval
        pa.field("predicted_rate", pa.float64()),  # `fundingRate`: the forecast, not settled
        pa.field("formula_type", pa.string()),  # `formulaType`: noRate / withRate
        pa.field("method", pa.string()),  # current_period / next_period
        pa.field("_source", pa.string(), nullable=False),
    ]
)

INSTRUMENTS = pa.schema(
    [
        pa.field("inst_id", pa.string(), nullable=False),
        pa.field("inst_type", pa.string(), nullable=False),
        pa.field("inst_family", pa.string(), nullable=False),  # `instFamily` ("BTC-USDT")
        pa.field("settle_ccy", pa.string()),
        # One contract is ct_val × ct_mult units of ct_val_ccy (e.g. 0.01 × 1 BTC). NULL only
        # while an instrument is `preopen` (OKX fills them in before listing).
        pa.field("ct_val", pa.float64()),
        pa.field("ct_mult", pa.float64()),
        pa.field("ct_val_ccy", pa.string()),
        pa.field("ct_type", pa.string()),  # linear / inverse
        pa.field("state", pa.string(), nullable=False),  # live / suspend / preopen / test
        pa.field("list_time", TS),
        pa.field("exp_time", TS),
        pa.field("tick_size", pa.float64()),  # `tickSz`, quote
        pa.field("lot_size_contracts", pa.float64()),  # `lotSz`
        pa.field("min_size_contracts", pa.float64()),  # `minSz`
        pa.field("snapshot_at", TS, nullable=False),  # when the list was fetched
        pa.field("_source", pa.string(), nullable=False),
    ]
)

LIQUIDATIONS = pa.schema(
    [
        pa.field("inst_type", pa.string(), nullable=False),
        pa.field("inst_family", pa.string(), nullable=False),  # `instFamily`, else `uly`
        pa.field("inst_id", pa.string()),  # NULL when the REST answer names only the family
        # `side`: the liquidation ORDER's side; `pos_side`: the liquidated POSITION (long /
        # short, or net: then sell = a long was liquidated, buy = a short).
        pa.field("side", pa.string(), nullable=False),
        pa.field("pos_side", pa.string(), nullable=False),
        pa.field("qty_contracts", pa.float64(), nullable=False),  # `sz`, × ct_val for coin
        pa.field("bankruptcy_price", pa.float64(), nullable=False),  # `bkPx`
        pa.field("bankruptcy_loss", pa.float64()),  # `bkLoss`
        pa.field("loss_ccy", pa.string()),  # `ccy` (empty for SWAP)
        pa.field("trade_time", TS, nullable=False),  # `ts`
        pa.field("received_at", TS),  # websocket receive time; NULL from REST
        # equal liquidations before this one in the same payload (`common.RepeatCounter`)
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

# Envelope codes that mean "slow down": 50011 Too Many Requests (EXCHANGES.md, rate limits).
RATE_LIMIT_CODES = frozenset({"50011"})

# What makes two liquidation rows the same liquidation, whichever feed they came from
# (`repeat_index` tells apart equal liquidations of one payload).
LIQUIDATION_KEY = (
    "inst_family",
    "trade_time",
    "side",
    "pos_side",
    "qty_contracts",
    "bankruptcy_price",
    "repeat_index",
)


def require_inst_id(value: str) -> str:
    """Validate a caller-supplied instrument id or family (it becomes part of URLs)."""
    if not isinstance(value, str) or not _INST_ID.fullmatch(value):
        raise ValueError(f"instrument {value!r} is not an OKX instrument id like BTC-USDT-SWAP")
    return value


# ------------------------------------------------------------------------------ envelope


class RateLimitedError(ExchangeAPIError, RetryableHTTPError):
    """OKX's rate-limit code (50011): an exchange error that is worth another try later."""

    def __init__(self, code: object, msg: str, source_uri: str) -> None:
        super().__init__(VENUE, code, msg, source_uri)  # retry_after stays None: no header


def _error(code: object, msg: str, source_uri: str) -> ExchangeAPIError:
    if str(code) in RATE_LIMIT_CODES:
        return RateLimitedError(code, msg, source_uri)
    return ExchangeAPIError(VENUE, code, msg, source_uri)


def rate_limit_reason(payload: bytes) -> str | None:
    """'OKX 50011 (Too Many Requests)' for a body carrying a rate-limit code, else None.

    The live transport retries such an answer with backoff whatever its HTTP status
    (`HttpTransport.retry_on_body`), so a rate-limit body is never retained or parsed.
    """
    try:
        body = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if isinstance(body, dict) and str(body.get("code")) in RATE_LIMIT_CODES:
        return f"OKX {body['code']} ({body.get('msg', '')})"
    return None


def data_of(payload: bytes, source_uri: str) -> list:
    """The `data` array of an OKX REST body; `code != "0"` raises `ExchangeAPIError` (the
    retryable `RateLimitedError` for a rate-limit code)."""
    body = decode_json(payload, source_uri)
    if not isinstance(body, dict) or "code" not in body:
        raise PayloadFormatError(f"body of {source_uri} is not an OKX envelope: {payload[:200]!r}")
    if str(body["code"]) != "0":
        raise _error(body["code"], str(body.get("msg", "")), source_uri)
    data = body.get("data")
    if not isinstance(data, list):
        raise PayloadFormatError(f"{source_uri}: 'data' is not an array")
    return data


# ------------------------------------------------------------------------------- parsers


def parse_candles_page(
    payload: bytes,
    inst_id: str,
    interval: str,
    source_uri: str,
    *,
    bounds: TimeBounds | None = None,
) -> ParseResult:
    """A `/api/v5/market/history-candles` body -> KLINES rows of confirmed candles only."""
    return _candle_rows(data_of(payload, source_uri), inst_id, interval, source_uri, bounds)


def _candle_rows(
    data: list, inst_id: str, interval: str, source_uri: str, bounds: TimeBounds | None
) -> ParseResult:
    collector = _collector(KLINES, "klines", "open_time", source_uri, bounds)
    open_candles = 0
    for item in data:
        record = _array_record(item, CANDLE_FIELDS, "candle")
        if isinstance(record, dict) and record["confirm"] == "0":
            open_candles += 1  # not final: a later run lands it
            continue
        build = functools.partial(_candle_row, record, inst_id, interval, source_uri)
        hint = functools.partial(time_hint, record, "ts", timestamp_ms)
        collector.add(raw_json(item), build, hint)
    if open_candles:
        log.info("okx candles %s: left out %d unconfirmed candle(s)", source_uri, open_candles)
    return collector.result()


def _candle_row(record: dict | RowError, inst_id: str, interval: str, source_uri: str) -> dict:
    if isinstance(record, RowError):
        raise record
    text(record, "confirm", choices=frozenset({"1"}))
    return {
        "inst_id": inst_id,
        "interval": interval,
        "open_time": timestamp_ms(record, "ts"),
        "open_price": number(record, "o", positive=True),
        "high_price": number(record, "h", positive=True),
        "low_price": number(record, "l", positive=True),
        "close_price": number(record, "c", positive=True),
        "volume_contracts": number(record, "vol", non_negative=True),
        "volume_base": number(record, "volCcy", non_negative=True),
        "volume_quote": number(record, "volCcyQuote", non_negative=True),
        "_source": source_uri,
    }


def parse_open_interest_page(
    payload: bytes,
    inst_id: str,
    period: str,
    source_uri: str,
    *,
    bounds: TimeBounds | None = None,
) -> ParseResult:
    """A rubik `open-interest-history` body -> OPEN_INTEREST rows (contracts, coin, USD)."""
    return _open_interest_rows(data_of(payload, source_uri), inst_id, period, source_uri, bounds)


def _open_interest_rows(
    data: list, inst_id: str, period: str, source_uri: str, bounds: TimeBounds | None
) -> ParseResult:
    collector = _collector(OPEN_INTEREST, "open_interest", "snapshot_at", source_uri, bounds)
    for item in data:
        record = _array_record(item, OPEN_INTEREST_FIELDS, "open interest")
        build = functools.partial(_open_interest_row, record, inst_id, period, source_uri)
        hint = functools.partial(time_hint, record, "ts", timestamp_ms)
        collector.add(raw_json(item), build, hint)
    return collector.result()


def _open_interest_row(record: dict | RowError, inst_id: str, period: str, source_uri: str) -> dict:
    if isinstance(record, RowError):
        raise record
    return {
        "inst_id": inst_id,
        "period": period,
        "snapshot_at": timestamp_ms(record, "ts"),
        "open_interest_contracts": number(record, "oi", non_negative=True),
        "open_interest_coin": number(record, "oiCcy", non_negative=True),
        "open_interest_usd": number(record, "oiUsd", non_negative=True),
        "_source": source_uri,
    }


def parse_funding_page(
    payload: bytes, inst_id: str, source_uri: str, *, bounds: TimeBounds | None = None
) -> ParseResult:
    """A `/api/v5/public/funding-rate-history` body -> FUNDING rows (`realizedRate`)."""
    return _funding_rows(data_of(payload, source_uri), inst_id, source_uri, bounds)


def _funding_rows(
    data: list, inst_id: str, source_uri: str, bounds: TimeBounds | None
) -> ParseResult:
    collector = _collector(FUNDING, "funding", "funding_time", source_uri, bounds)
    for item in data:
        build = functools.partial(_funding_row, item, inst_id, source_uri)
        hint = functools.partial(time_hint, item, "fundingTime", timestamp_ms)
        collector.add(raw_json(item), build, hint)
    return collector.result()


def _funding_row(item: object, inst_id: str, source_uri: str) -> dict:
    record = _object(item)
    _same_instrument(record, inst_id)
    return {
        "inst_id": inst_id,
        "funding_time": timestamp_ms(record, "fundingTime"),
        "realized_rate": number(record, "realizedRate"),
        "predicted_rate": number(record, "fundingRate", optional=True),
        "formula_type": text(record, "formulaType", optional=True),
        "method": text(record, "method", optional=True),
        "_source": source_uri,
    }


def parse_instruments_page(payload: bytes, source_uri: str, fetched_at_ms: int) -> ParseResult:
    """A `/api/v5/public/instruments?instType=SWAP` body -> INSTRUMENTS rows."""
    return _instrument_rows(data_of(payload, source_uri), source_uri, fetched_at_ms)


def _instrument_rows(data: list, source_uri: str, fetched_at_ms: int) -> ParseResult:
    collector = _collector(INSTRUMENTS, "instruments", "snapshot_at", source_uri, None)
    for item in data:
        build = functools.partial(_instrument_row, item, fetched_at_ms, source_uri)
        collector.add(raw_json(item), build)
    return collector.result()


def _instrument_row(item: object, fetched_at_ms: int, source_uri: str) -> dict:
    record = _object(item)
    state = text(record, "state")
    # OKX leaves contract fields "" until shortly before a `preopen` instrument lists.
    pending = state == "preopen"
    return {
        "inst_id": _inst_id(record, "instId"),
        "inst_type": text(record, "instType"),
        "inst_family": _inst_id(record, "instFamily"),
        "settle_ccy": text(record, "settleCcy", optional=True),
        "ct_val": number(record, "ctVal", positive=True, optional=pending),
        "ct_mult": number(record, "ctMult", positive=True, optional=pending),
        "ct_val_ccy": text(record, "ctValCcy", optional=pending),
        "ct_type": text(record, "ctType", choices=frozenset({"linear", "inverse"}), optional=True),
        "state": state,
        "list_time": _optional_time(record, "listTime"),
        "exp_time": _optional_time(record, "expTime"),
        "tick_size": number(record, "tickSz", positive=True, optional=pending),
        "lot_size_contracts": number(record, "lotSz", positive=True, optional=pending),
        "min_size_contracts": number(record, "minSz", positive=True, optional=pending),
        "snapshot_at": fetched_at_ms,
        "_source": source_uri,
    }


def parse_liquidation_message(
    text_: str,
    received_at_ms: int | None,
    source_uri: str,
    *,
    inst_type: str = INST_TYPE,
    bounds: TimeBounds | None = None,
) -> ParseResult:
    """One `liquidation-orders` websocket message -> LIQUIDATIONS rows (one per detail)."""
    collector = _collector(LIQUIDATIONS, "liquidations", "trade_time", source_uri, bounds)
    _add_liquidation_message(collector, text_, received_at_ms, inst_type)
    return collector.result()


def _add_liquidation_message(
    collector: RowCollector, text_: str, received_at_ms: int | None, inst_type: str
) -> None:
    if text_.strip() == "pong":
        return
    try:
        message = json.loads(text_)
    except json.JSONDecodeError as exc:
        collector.settle_bad(text_, f"malformed JSON: {exc}", None)
        return
    if isinstance(message, dict) and message.get("event") not in (None, "error"):
        log.debug("skipping websocket control frame %s", text_)  # subscribe, notice, ...
        return
    reason = _not_liquidation_orders(message)
    if reason is not None:
        collector.settle_bad(text_, reason, None)
        return
    repeats = RepeatCounter()
    for item in message["data"]:
        _add_liquidation_item(collector, text_, item, received_at_ms, inst_type, repeats)


def _not_liquidation_orders(message: object) -> str | None:
    """Why a decoded message is not a `liquidation-orders` push (None if it is one)."""
    if isinstance(message, dict) and message.get("event") == "error":
        return f"websocket error {message.get('code')!r}: {message.get('msg')!r}"
    arg = message.get("arg") if isinstance(message, dict) else None
    channel = arg.get("channel") if isinstance(arg, dict) else None
    if channel != LIQUIDATION_STREAM:
        return f"not a {LIQUIDATION_STREAM} message (channel {channel!r})"
    if not isinstance(message.get("data"), list):
        return "'data' is not an array"
    return None


def _add_liquidation_item(
    collector: RowCollector,
    raw: str,
    item: object,
    received_at_ms: int | None,
    inst_type: str,
    repeats: RepeatCounter,
) -> None:
    """One instrument's entry (`instId`, `instFamily`, `details[]`) of a push or REST page."""
    details = item.get("details") if isinstance(item, dict) else None
    if not isinstance(details, list):
        collector.settle_bad(raw, "entry has no 'details' array", None)
        return
    instrument = {key: item.get(key) for key in ("instType", "instFamily", "uly", "instId")}
    for detail in details:
        build = functools.partial(
            _liquidation_row,
            item,
            detail,
            inst_type,
            received_at_ms,
            repeats.next(instrument, detail),
            collector.source_uri,
        )
        collector.add(raw, build, functools.partial(time_hint, detail, "ts", timestamp_ms))


def _liquidation_row(
    item: Mapping[str, object],
    detail: object,
    inst_type: str,
    received_at_ms: int | None,
    repeat_index: int,
    source_uri: str,
) -> dict:
    record = _object(detail)
    found_type = text(item, "instType")
    if found_type != inst_type:
        raise RowError(f"instType {found_type!r} is not {inst_type!r}")
    family_key = "instFamily" if item.get("instFamily") else "uly"
    return {
        "inst_type": found_type,
        "inst_family": _inst_id(item, family_key),
        "inst_id": _inst_id(item, "instId") if item.get("instId") else None,
        "side": text(record, "side", choices=ORDER_SIDES),
        "pos_side": text(record, "posSide", choices=POSITION_SIDES),
        "qty_contracts": number(record, "sz", positive=True),
        "bankruptcy_price": number(record, "bkPx", positive=True),
        "bankruptcy_loss": number(record, "bkLoss", non_negative=True, optional=True),
        "loss_ccy": text(record, "ccy", optional=True),
        "trade_time": timestamp_ms(record, "ts"),
        "received_at": received_at_ms,
        "repeat_index": repeat_index,
        "_source": source_uri,
    }


def parse_liquidation_orders_page(
    payload: bytes,
    source_uri: str,
    *,
    inst_type: str = INST_TYPE,
    bounds: TimeBounds | None = None,
) -> ParseResult:
    """A `/api/v5/public/liquidation-orders` body -> LIQUIDATIONS rows (no receive time)."""
    return _liquidation_order_rows(data_of(payload, source_uri), source_uri, inst_type, bounds)


def _liquidation_order_rows(
    data: list, source_uri: str, inst_type: str, bounds: TimeBounds | None
) -> ParseResult:
    collector = _collector(LIQUIDATIONS, "liquidations", "trade_time", source_uri, bounds)
    repeats = RepeatCounter()
    for item in data:
        _add_liquidation_item(collector, raw_json(item), item, None, inst_type, repeats)
    return collector.result()


# ------------------------------------------------------------------ liquidation copies


def union_liquidations(tables: Sequence[pa.Table]) -> pa.Table:
    """One row per liquidation across payloads that may repeat each other.

    Each table is what one or more payloads said, in the order they were received (websocket
    messages, REST pages). Equal liquidations inside a payload differ by `repeat_index`, so a
    `LIQUIDATION_KEY` seen again is the same liquidation seen again: its first row is kept
    (websocket rows carry their receive time). Rows come back in (trade time, key) order.
    """
    # the empty table gives the schema when there is nothing to unite
    rows = pa.concat_tables([LIQUIDATIONS.empty_table(), *(t.cast(LIQUIDATIONS) for t in tables)])
    rows = rows.append_column("_arrival", pa.array(range(rows.num_rows), pa.int64()))
    firsts = rows.group_by(list(LIQUIDATION_KEY), use_threads=False).aggregate(
        [("_arrival", "min")]
    )
    kept = rows.take(firsts["_arrival_min"]).drop_columns(["_arrival"])
    return kept.sort_by([(column, "ascending") for column in ("trade_time", *LIQUIDATION_KEY)])


def merge_liquidations(*results: ParseResult) -> ParseResult:
    """The websocket result and REST back-stop results as one, each liquidation once.

    Each result is already one row per liquidation; a liquidation in several of them is kept
    once, from the earliest result.
    """
    return ParseResult(
        union_liquidations([result.table for result in results]),
        [reject for result in results for reject in result.rejects],
        [source for result in results for source in result.sources],
    )


# ------------------------------------------------------------------------------ fetchers


def fetch_klines(
    transport: Transport,
    inst_id: str,
    interval: str,
    start: date,
    end: date,
    *,
    rest_base: str = REST_BASE,
) -> ParseResult:
    """Confirmed candles of `inst_id` at `interval` ("1h", "1d" = bar 1Dutc) in `[start, end)`."""
    inst_id = require_inst_id(inst_id)
    if interval not in CANDLE_BARS:
        raise ValueError(f"unsupported candle interval {interval!r}; one of {list(CANDLE_BARS)}")
    results = _page_backwards(
        transport,
        rest_base + CANDLES_PATH,
        {"instId": inst_id, "bar": CANDLE_BARS[interval]},
        window_ms(start, end),
        ("after", "before"),
        CANDLES_LIMIT,
        functools.partial(_candle_rows, inst_id=inst_id, interval=interval),
        _array_time,
    )
    return _finish(results, KLINES, "klines", ("inst_id", "interval", "open_time"), inst_id)


def fetch_open_interest(
    transport: Transport,
    inst_id: str,
    start: date,
    end: date,
    *,
    period: str = "5m",
    rest_base: str = REST_BASE,
) -> ParseResult:
    """Open interest of `inst_id` per `period` taken in `[start, end)` (latest 1,440 only)."""
    inst_id = require_inst_id(inst_id)
    if period not in OPEN_INTEREST_PERIODS:
        raise ValueError(f"unsupported period {period!r}; one of {sorted(OPEN_INTEREST_PERIODS)}")
    results = _page_backwards(
        transport,
        rest_base + OPEN_INTEREST_PATH,
        {"instId": inst_id, "period": period},
        window_ms(start, end),
        ("end", "begin"),
        OPEN_INTEREST_LIMIT,
        functools.partial(_open_interest_rows, inst_id=inst_id, period=period),
        _array_time,
    )
    key = ("inst_id", "period", "snapshot_at")
    return _finish(results, OPEN_INTEREST, "open_interest", key, inst_id)


def fetch_funding(
    transport: Transport,
    inst_id: str,
    start: date,
    end: date,
    *,
    rest_base: str = REST_BASE,
) -> ParseResult:
    """Settled funding of `inst_id` in `[start, end)` (`realizedRate`; about 3 months deep)."""
    inst_id = require_inst_id(inst_id)
    results = _page_backwards(
        transport,
        rest_base + FUNDING_HISTORY_PATH,
        {"instId": inst_id},
        window_ms(start, end),
        ("after", "before"),
        FUNDING_LIMIT,
        functools.partial(_funding_rows, inst_id=inst_id),
        functools.partial(_object_time, key="fundingTime"),
    )
    return _finish(results, FUNDING, "funding", ("inst_id", "funding_time"), inst_id)


def fetch_instruments(transport: Transport, *, rest_base: str = REST_BASE) -> ParseResult:
    """Every SWAP instrument OKX lists now, with its contract value (one request)."""
    response, data = _get_data(transport, rest_base + INSTRUMENTS_PATH, {"instType": INST_TYPE})
    fetched_ms = int(response.fetched_at.timestamp() * 1000)
    page = _instrument_rows(data, response.source_uri, fetched_ms)
    results = [replace(page, sources=[source_payload(response)])]
    return _finish(results, INSTRUMENTS, "instruments", ("inst_id",), "SWAP")


def fetch_liquidation_orders(
    transport: Transport,
    inst_family: str,
    start: date,
    end: date,
    *,
    rest_base: str = REST_BASE,
) -> ParseResult:
    """Filled SWAP liquidations of `inst_family` ("BTC-USDT") in `[start, end)` from REST.

    OKX keeps about one day, so this is a back-stop for the websocket recording, to run within
    a day of the window. Pages are walked backwards from the window's end with `after`; each
    next page starts AT the previous page's oldest time (`after` = oldest + 1), so liquidations
    sharing that millisecond are not cut off, and the overlap collapses in `union_liquidations`.
    """
    inst_family = require_inst_id(inst_family)
    keep = window_ms(start, end)
    # Nothing at or after the window's end was asked for; older rows belong to earlier days.
    bounds = TimeBounds.of(keep, (PLAUSIBLE_FROM_MS, keep[1]))
    url = rest_base + LIQUIDATION_ORDERS_PATH
    params = {"instType": INST_TYPE, "state": "filled", "uly": inst_family}
    pages: list[ParseResult] = []
    cursor = keep[1]
    while True:
        query = {**params, "after": cursor, "limit": LIQUIDATION_ORDERS_LIMIT}
        response, data = _get_data(transport, url, query)
        page = _liquidation_order_rows(data, response.source_uri, INST_TYPE, bounds)
        pages.append(replace(page, sources=[source_payload(response)]))
        times = [t for t in map(_detail_time, _details(data)) if t is not None]
        log.info("okx liquidation-orders %s: %d details", query, len(times))
        if len(times) < LIQUIDATION_ORDERS_LIMIT or min(times) < keep[0]:
            break
        if min(times) + 1 >= cursor:
            raise PagingError(f"a full page of one millisecond: {response.source_uri}")
        cursor = min(times) + 1
    return merge_liquidations(*pages)


def read_liquidations(replay_root: Path, start: date, end: date) -> ParseResult:
    """Recorded `liquidation-orders` (SWAP) pushes whose `ts` lies in `[start, end)` (see
    `common.recorded_segments` for how segments around the window are read).

    Repeats across messages (re-pushes, the stale first push after subscribing, two
    recorders) collapse in `union_liquidations`.
    """
    tables: list[pa.Table] = []
    rejects: list[dict] = []
    sources: list[SourcePayload] = []
    for segment in recorded_segments(replay_root, VENUE, LIQUIDATION_STREAM, start, end):
        collector = _read_segment(segment)
        tables.append(collector.result().table)
        rejects.extend(collector.rejects)
        if segment.owned or collector.rows or collector.rejects:
            sources.append(segment.payload)
    table = union_liquidations(tables)
    log.info(
        "okx liquidations %s..%s: %d rows, %d rejects from %d segments",
        start,
        end,
        table.num_rows,
        len(rejects),
        len(sources),
    )
    return ParseResult(table, rejects, sources)


def _read_segment(segment: RecordedSegment) -> RowCollector:
    """The collector of one segment's messages, in the order they were received."""
    collector = _collector(
        LIQUIDATIONS, "liquidations", "trade_time", segment.source_uri, segment.bounds
    )
    for message in segment.messages:
        _add_liquidation_message(collector, message.text, message.received_at_ms, INST_TYPE)
    return collector


# ------------------------------------------------------------------------------- paging

BodyParser = Callable[..., ParseResult]


def _get_data(transport: Transport, url: str, params: dict) -> tuple[Response, list]:
    response = transport.get(url, params)
    if response.status >= 400:
        _raise_error_body(response)
        raise TransportError(f"HTTP {response.status} from {response.source_uri}")
    return response, data_of(response.body, response.source_uri)


def _raise_error_body(response: Response) -> None:
    """An HTTP error that carries OKX's envelope raises its `code` and `msg`."""
    try:
        body = json.loads(response.body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return
    if isinstance(body, dict) and str(body.get("code", "0")) != "0":
        raise _error(body["code"], str(body.get("msg", "")), response.source_uri)


def _page_backwards(
    transport: Transport,
    url: str,
    params: dict,
    keep: tuple[int, int],
    cursor_keys: tuple[str, str],
    limit: int,
    parse_data: BodyParser,
    item_time: Callable[[object], int | None],
) -> list[ParseResult]:
    """Page a newest-first endpoint from the end of `keep` back to its start.

    Every request asks for rows older than the cursor (`cursor_keys[0]`, exclusive) and newer
    than the window's start - 1 (`cursor_keys[1]`); the next cursor is the page's oldest time.
    Paging ends on a page shorter than `limit` (the limits sent are at most OKX's maxima, so a
    short page is the end of the range), on reaching the window's start, or on a page with
    nothing older than its cursor (a server that treats the bound as inclusive).
    """
    bounds = TimeBounds.of(keep, (keep[0] - REST_MARGIN_MS, keep[1]))
    older_key, newer_key = cursor_keys
    pages = []
    cursor = keep[1]
    while True:
        query = {**params, older_key: cursor, newer_key: keep[0] - 1, "limit": limit}
        response, data = _get_data(transport, url, query)
        page = parse_data(data, source_uri=response.source_uri, bounds=bounds)
        pages.append(replace(page, sources=[source_payload(response)]))
        log.info(
            "okx %s %s: %d items -> %d rows, %d rejects",
            url.rsplit("/", 1)[-1],
            query,
            len(data),
            page.table.num_rows,
            len(page.rejects),
        )
        times = [t for t in map(item_time, data) if t is not None]
        if len(data) < limit or not times or min(times) <= keep[0] or min(times) >= cursor:
            return pages
        cursor = min(times)


def _array_time(item: object) -> int | None:
    """The `ts` of an array row (candles, open interest), or None if unreadable."""
    if not isinstance(item, list) or not item:
        return None
    return time_hint({"ts": item[0]}, "ts", timestamp_ms)


def _object_time(item: object, key: str) -> int | None:
    return time_hint(item, key, timestamp_ms)


def _details(data: list) -> list:
    return [
        detail
        for item in data
        if isinstance(item, dict) and isinstance(item.get("details"), list)
        for detail in item["details"]
    ]


def _detail_time(detail: object) -> int | None:
    return time_hint(detail, "ts", timestamp_ms)


# ------------------------------------------------------------------------------ helpers


def _collector(schema, dataset: str, time_column: str, source_uri: str, bounds) -> RowCollector:
    return RowCollector(schema, VENUE, dataset, time_column, source_uri, bounds)


def _object(item: object) -> Mapping[str, object]:
    if not isinstance(item, dict):
        raise RowError(f"expected a JSON object, got {type(item).__name__}")
    return item


def _array_record(item: object, fields: tuple[str, ...], what: str) -> dict | RowError:
    if isinstance(item, list) and len(item) == len(fields):
        return dict(zip(fields, item, strict=True))
    return RowError(f"expected an array of {len(fields)} {what} fields")


def _inst_id(record: Mapping[str, object], key: str) -> str:
    value = text(record, key)
    if not _INST_ID.fullmatch(value):
        raise RowError(f"{key} {value!r} is not an OKX instrument name")
    return value


def _same_instrument(record: Mapping[str, object], inst_id: str) -> None:
    found = _inst_id(record, "instId")
    if found != inst_id:
        raise RowError(f"instId {found!r} does not match the requested {inst_id!r}")


def _optional_time(record: Mapping[str, object], key: str) -> int | None:
    """An epoch-ms field OKX leaves "" when it does not apply (e.g. `expTime` of a swap)."""
    if text(record, key, optional=True) is None:
        return None
    return timestamp_ms(record, key)


def _finish(
    results: list[ParseResult], schema, dataset: str, key: tuple[str, ...], inst_id: str
) -> ParseResult:
    result = dedupe_on_key(ParseResult.concat(results, schema), key, VENUE, dataset)
    log.info(
        "okx %s %s: %d rows, %d rejects from %d payloads",
        dataset,
        inst_id,
        result.table.num_rows,
        len(result.rejects),
        len(result.sources),
    )
    return result
