"""Bybit v5 (`category=linear`), in process: the REST endpoints the connector calls, answered from
a simulation's truth (Bybit's share of the market).

`SimulatedBybitApi` is a `transport.Transport` for ``api.bybit.com``. Every answer is Bybit's
envelope ``{"retCode", "retMsg", "result", "retExtInfo", "time"}`` with HTTP 200; a refused
request has `retCode` 10001 and an empty `result`. Unknown paths raise `PayloadNotFound`.

* ``/v5/market/kline``: `[startTime, open, high, low, close, volume, turnover]` strings,
  newest first; rows with `start <= t <= end`, the newest `limit` (default 200, at most 1000).
  Intervals 1 .. 720 minutes, D and W (weeks open on Monday).
* ``/v5/market/open-interest``: snapshots on the `intervalTime` grid inside
  `[startTime, endTime]`, newest first, `limit` (default 50, at most 200) per page and an opaque
  `nextPageCursor` for the next, older page. `openInterest` is the SUM OF BOTH SIDES (twice the
  one-sided open interest), base coin; `singleOpenInterest` (one side) appears in answers given
  from 2026-06-09 on, when Bybit added it.
* ``/v5/market/funding/history``: `{symbol, fundingRate, fundingRateTimestamp}` newest first,
  `limit` (default and at most 200); `startTime` without `endTime` is refused, as on Bybit.
* ``/v5/market/instruments-info``: the simulated linear perpetuals, cursor-paged.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from include.cryptodw.simulator import formats
from include.cryptodw.simulator.rest import ApiError, ClockedApi, integer_param, limit_param
from include.cryptodw.simulator.truth import FUNDING_STEP_MS, TruthStore, page_span, span_days
from include.cryptodw.sources import bybit
from include.cryptodw.transport import Params, PayloadNotFound, Response, TransportError

HOST = urlsplit(bybit.REST_BASE).netloc
MINUTE_MS = 60_000
DAY_MS = 86_400_000
WEEK_OFFSET_MS = 4 * DAY_MS  # the epoch was a Thursday; Bybit's weeks open on Monday
KLINE_INTERVALS_MS = {
    **{str(m): m * MINUTE_MS for m in (1, 3, 5, 15, 30, 60, 120, 240, 360, 720)},
    "D": DAY_MS,
    "W": 7 * DAY_MS,
}
OPEN_INTEREST_INTERVALS_MS = {
    "5min": 5 * MINUTE_MS,
    "15min": 15 * MINUTE_MS,
    "30min": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "1d": DAY_MS,
}
SINGLE_OPEN_INTEREST_SINCE = datetime(2026, 6, 9, tzinfo=UTC)
LAUNCH_MS = 1_584_230_400_000  # 2020-03-15, when BTCUSDT listed; every simulated contract
OPEN_INTEREST_DECIMALS = 8
MAX_PRICE = 2_000_000  # priceFilter.maxPrice sits just below this (quote)


def _params_error(what: str) -> ApiError:
    return ApiError(200, 10001, f"params error: {what}")


@dataclass
class SimulatedBybitApi(ClockedApi):
    """Bybit's linear REST API over one simulation's Bybit share."""

    @classmethod
    def from_truth(cls, truth_root: Path, **options) -> SimulatedBybitApi:
        truth = TruthStore(Path(truth_root), bybit.VENUE)
        if not truth.simulated:
            raise ValueError(f"the simulation under {truth_root} did not include Bybit")
        return cls(truth, **options)

    def get(self, url: str, params: Params | None = None) -> Response:
        parts = urlsplit(url)
        canonical = self.tick(params)
        if parts.netloc != HOST:
            raise TransportError(f"the simulated Bybit does not serve host {parts.netloc!r}")
        routes = {
            bybit.KLINE_PATH: self._kline,
            bybit.OPEN_INTEREST_PATH: self._open_interest,
            bybit.FUNDING_HISTORY_PATH: self._funding,
            bybit.INSTRUMENTS_PATH: self._instruments,
        }
        handler = routes.get(parts.path)
        if handler is None:
            raise PayloadNotFound(f"HTTP 404 from {url} {canonical}")
        try:
            result, code, msg = handler(canonical), 0, "OK"
        except ApiError as error:
            result, code, msg = {}, error.code, error.msg
        body = {
            "retCode": code,
            "retMsg": msg,
            "result": result,
            "retExtInfo": {},
            "time": self.now_ms,
        }
        return self.respond(url, canonical, 200, body)

    # ------------------------------------------------------------------------ endpoints

    def _kline(self, params: dict[str, str]) -> dict:
        symbol = self._symbol(params)
        interval = params.get("interval")
        if interval not in KLINE_INTERVALS_MS:
            raise _params_error("interval invalid")
        length = KLINE_INTERVALS_MS[interval]
        limit = limit_param(params, 200, bybit.KLINE_LIMIT, _params_error("limit invalid"))
        span = self._span(params, ("start", "end"), limit, length)
        offset = WEEK_OFFSET_MS if interval == "W" else 0
        candles = self.truth.candles(symbol, length, offset, span=span)
        rows = self._newest(candles, candles[:, 0], params, ("start", "end"), limit)
        spec = self.truth.specs[symbol]
        price, qty = spec["price_decimals"], spec["qty_decimals"]
        items = [
            [str(row[0]), *(formats.trimmed(int(v), price) for v in row[1:5]),
             formats.trimmed(int(row[5]), qty), formats.trimmed(int(row[6]), price + qty)]
            for row in rows.tolist()
        ]  # fmt: skip
        return {"symbol": symbol, "category": bybit.CATEGORY, "list": items}

    def _open_interest(self, params: dict[str, str]) -> dict:
        symbol = self._symbol(params)
        step = OPEN_INTEREST_INTERVALS_MS.get(params.get("intervalTime", ""))
        if step is None:
            raise _params_error("intervalTime invalid")
        limit = limit_param(params, 50, bybit.OPEN_INTEREST_LIMIT, _params_error("limit invalid"))
        start = integer_param(params, "startTime", _params_error("startTime invalid"))
        end = integer_param(params, "endTime", _params_error("endTime invalid"))
        upper = end if end is not None else self.now_ms
        cursor = params.get("cursor")
        if cursor:
            upper = min(upper, _decode_cursor(cursor) - 1)
        # one row more than the page: `more` counts past it
        span = page_span(limit + 1, step, upper, start)
        table = self.truth.symbol_rows("open_interest", symbol, *span_days(span))
        times = table.column("snapshot_ms").to_numpy()
        inside = (times % step == 0) & (times <= upper)
        if start is not None:
            inside &= times >= start
        index = np.flatnonzero(inside)[::-1][:limit]
        more = np.count_nonzero(inside) > limit
        oi = table.column("oi_units").to_numpy()
        qty = self.truth.specs[symbol]["qty_decimals"]
        single = self.clock >= SINGLE_OPEN_INTEREST_SINCE
        items = []
        for i in index.tolist():
            item = {"openInterest": formats.fixed(2 * int(oi[i]), qty, OPEN_INTEREST_DECIMALS)}
            if single:
                item["singleOpenInterest"] = formats.fixed(int(oi[i]), qty, OPEN_INTEREST_DECIMALS)
            item["timestamp"] = str(int(times[i]))
            items.append(item)
        next_cursor = _encode_cursor(int(times[index[-1]])) if more else ""
        return {
            "symbol": symbol,
            "category": bybit.CATEGORY,
            "list": items,
            "nextPageCursor": next_cursor,
        }

    def _funding(self, params: dict[str, str]) -> dict:
        symbol = self._symbol(params)
        if "startTime" in params and "endTime" not in params:
            raise _params_error("endTime is required when startTime is given")
        limit = limit_param(params, 200, bybit.FUNDING_LIMIT, _params_error("limit invalid"))
        span = self._span(params, ("startTime", "endTime"), limit, FUNDING_STEP_MS)
        table = self.truth.symbol_rows("funding", symbol, *span_days(span))
        times = table.column("funding_time_ms").to_numpy()
        rows = self._newest(np.arange(times.size), times, params, ("startTime", "endTime"), limit)
        rates = table.column("rate_e8").to_numpy()
        items = [
            {"symbol": symbol, "fundingRate": formats.trimmed(int(rates[i]), 8),
             "fundingRateTimestamp": str(int(times[i]))}
            for i in rows.tolist()
        ]  # fmt: skip
        return {"category": bybit.CATEGORY, "list": items}

    def _instruments(self, params: dict[str, str]) -> dict:
        self._category(params)
        limit = limit_param(params, 500, bybit.INSTRUMENTS_LIMIT, _params_error("limit invalid"))
        symbols = sorted(self.truth.contracts)
        if "symbol" in params:
            symbols = [s for s in symbols if s == params["symbol"]]
        offset = integer_param(params, "cursor", _params_error("cursor invalid")) or 0
        page = symbols[offset : offset + limit]
        more = offset + limit < len(symbols)
        return {"category": bybit.CATEGORY,
                "list": [self._instrument(symbol) for symbol in page],
                "nextPageCursor": str(offset + limit) if more else ""}  # fmt: skip

    def _instrument(self, symbol: str) -> dict:
        spec = self.truth.specs[symbol]
        price, qty = spec["price_decimals"], spec["qty_decimals"]
        step = formats.fixed(1, qty)
        tick = spec["tick_units"]
        max_price = (MAX_PRICE * 10**price // tick - 2) * tick
        return {
            "symbol": symbol,
            "contractType": "LinearPerpetual",
            "status": "Trading",
            "baseCoin": symbol.removesuffix("USDT"),
            "quoteCoin": "USDT",
            "launchTime": str(LAUNCH_MS),
            "deliveryTime": "0",
            "deliveryFeeRate": "",
            "priceScale": str(price),
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
            "priceFilter": {
                "minPrice": formats.fixed(tick, price),
                "maxPrice": formats.fixed(max_price, price),
                "tickSize": formats.fixed(tick, price),
            },
            "lotSizeFilter": {
                "maxOrderQty": formats.fixed(10**qty * 1_000_000, qty),
                "minOrderQty": step,
                "qtyStep": step,
                "postOnlyMaxOrderQty": formats.fixed(10**qty * 1_000_000, qty),
                "maxMktOrderQty": formats.fixed(10**qty * 100_000, qty),
                "minNotionalValue": "5",
            },
            "unifiedMarginTrade": True,
            "fundingInterval": 480,
            "settleCoin": "USDT",
            "copyTrading": "both",
            "upperFundingRate": "0.005",
            "lowerFundingRate": "-0.005",
            "isPreListing": False,
            "preListingInfo": None,
        }

    # -------------------------------------------------------------------------- helpers

    @staticmethod
    def _category(params: dict[str, str]) -> None:
        if params.get("category") != bybit.CATEGORY:
            raise _params_error("category invalid (the simulation lists linear contracts)")

    def _symbol(self, params: dict[str, str]) -> str:
        self._category(params)
        symbol = params.get("symbol", "")
        if symbol not in self.truth.contracts:
            raise _params_error("symbol invalid")
        return symbol

    def _span(
        self, params: dict[str, str], keys: tuple[str, str], limit: int, step_ms: int
    ) -> tuple[int, int]:
        """The times `_newest` can answer from, on a series with a row every `step_ms`."""
        start = integer_param(params, keys[0], _params_error(f"{keys[0]} invalid"))
        end = integer_param(params, keys[1], _params_error(f"{keys[1]} invalid"))
        return page_span(limit, step_ms, end if end is not None else self.now_ms, start)

    def _newest(
        self,
        rows: np.ndarray,
        times: np.ndarray,
        params: dict[str, str],
        keys: tuple[str, str],
        limit: int,
    ) -> np.ndarray:
        """Rows with `keys[0] <= t <= keys[1]` (end: now), the newest `limit`, newest first."""
        start = integer_param(params, keys[0], _params_error(f"{keys[0]} invalid"))
        end = integer_param(params, keys[1], _params_error(f"{keys[1]} invalid"))
        inside = times <= (end if end is not None else self.now_ms)
        if start is not None:
            inside &= times >= start
        return rows[inside][::-1][:limit]


def _encode_cursor(older_than_ms: int) -> str:
    return base64.urlsafe_b64encode(f"before={older_than_ms}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        key, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition("=")
        if key != "before" or not value.isdigit():
            raise ValueError(cursor)
    except ValueError:
        raise _params_error("cursor invalid") from None
    return int(value)
