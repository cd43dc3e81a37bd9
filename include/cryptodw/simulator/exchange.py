"""Binance, in process: the REST endpoints the connector calls, answered from a simulation's truth.

`SimulatedBinanceApi` is a `transport.Transport`. For ``fapi.binance.com`` it serves

* ``GET /fapi/v1/klines`` (any interval the connector knows, aggregated from minute bars),
* ``GET /futures/data/openInterestHist`` (periods 5m .. 1d, subsampled 5-minute snapshots),
* ``GET /fapi/v1/fundingRate``,

with Binance's semantics: `startTime`/`endTime` both inclusive; with a `startTime` the first
`limit` rows from it, otherwise the last `limit` rows up to `endTime` (or now); default and
maximum limits per endpoint; request weight reported in ``x-mbx-used-weight-1m`` per minute of
the API's clock; Binance's error bodies with HTTP 400 (``{"code":-1121,"msg":"Invalid
symbol."}``) or 429 when the weight budget is spent. For ``data.binance.vision`` it serves the
archive files the emitter wrote under the replay root. Unknown paths raise `PayloadNotFound`,
as a 404 does on `HttpTransport`.

The API's clock is simulated: it starts when the window ends and advances a fixed step per
request, so a recording made through it is reproducible.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from include.cryptodw.simulator import formats
from include.cryptodw.simulator.bybit_api import SimulatedBybitApi
from include.cryptodw.simulator.okx_api import SimulatedOkxApi
from include.cryptodw.simulator.truth import FUNDING_STEP_MS, TruthStore, page_span, span_days
from include.cryptodw.sources import bybit, okx
from include.cryptodw.sources.binance import (
    FUNDING_LIMIT,
    FUNDING_RATE_PATH,
    INTERVAL_MS,
    KLINES_LIMIT,
    KLINES_PATH,
    OPEN_INTEREST_HIST_PATH,
    OPEN_INTEREST_LIMIT,
    VENUE,
)
from include.cryptodw.transport import (
    Params,
    PayloadNotFound,
    Response,
    Transport,
    TransportError,
)

REST_HOST = "fapi.binance.com"
ARCHIVE_HOST = "data.binance.vision"
WEIGHT_HEADER = "x-mbx-used-weight-1m"
OPEN_INTEREST_PERIODS = ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")
KLINES_DEFAULT_LIMIT = 500
OPEN_INTEREST_DEFAULT_LIMIT = 30
FUNDING_DEFAULT_LIMIT = 100
_INTEGER = re.compile(r"[0-9]{1,20}")


class BinanceError(Exception):
    """A request Binance refuses: HTTP status plus its `{"code", "msg"}` body."""

    def __init__(self, status: int, code: int, msg: str, headers: dict | None = None) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg
        self.headers = headers or {}


def _invalid_symbol() -> BinanceError:
    return BinanceError(400, -1121, "Invalid symbol.")


def _mandatory(name: str) -> BinanceError:
    return BinanceError(
        400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def _not_valid(name: str) -> BinanceError:
    return BinanceError(400, -1130, f"Data sent for parameter '{name}' is not valid.")


def klines_weight(limit: int) -> int:
    """Binance's request weight of `/fapi/v1/klines` by `limit`."""
    if limit < 100:
        return 1
    if limit < 500:
        return 2
    if limit <= 1000:
        return 5
    return 10


@dataclass(frozen=True)
class _Query:
    """Validated common parameters of a time-windowed endpoint."""

    symbol: str
    start_ms: int | None
    end_ms: int | None
    limit: int


@dataclass
class SimulatedBinanceApi:
    """Binance's REST API (and archive host) over one simulation's output."""

    truth_root: Path
    archive_root: Path | None = None
    # Binance keeps openInterestHist for about 30 days; None serves the whole window.
    open_interest_history_days: int | None = None
    request_spacing_s: float = 1.0
    weight_limit: int = 2400
    _truth: TruthStore = field(init=False, repr=False)
    _clock: datetime = field(init=False, repr=False)
    _weight_minute: int = field(init=False, default=-1, repr=False)
    _weight_used: int = field(init=False, default=0, repr=False)

    def __post_init__(self) -> None:
        self._truth = TruthStore(Path(self.truth_root), VENUE)
        if not self._truth.simulated:
            raise ValueError(f"the simulation under {self.truth_root} did not include Binance")
        self._specs = self._truth.specs
        self._clock = datetime.combine(self.window_end, datetime.min.time(), tzinfo=UTC)

    @classmethod
    def from_truth(
        cls, truth_root: Path, archive_root: Path | None = None, **options
    ) -> SimulatedBinanceApi:
        """The API over `simulate`'s truth (and, given `archive_root`, its archive files)."""
        return cls(
            Path(truth_root), None if archive_root is None else Path(archive_root), **options
        )

    @property
    def window_start(self) -> date:
        return self._truth.window_start

    @property
    def window_end(self) -> date:
        return self._truth.window_end

    # ------------------------------------------------------------------------ transport

    def get(self, url: str, params: Params | None = None) -> Response:
        parts = urlsplit(url)
        canonical = {str(k): str(v) for k, v in sorted((params or {}).items())}
        self._clock += timedelta(seconds=self.request_spacing_s)
        if parts.netloc == ARCHIVE_HOST:
            return self._archive_file(url, parts.path)
        if parts.netloc != REST_HOST:
            raise TransportError(f"the simulated Binance does not serve host {parts.netloc!r}")
        routes = {
            KLINES_PATH: self._klines,
            OPEN_INTEREST_HIST_PATH: self._open_interest_hist,
            FUNDING_RATE_PATH: self._funding_rate,
        }
        handler = routes.get(parts.path)
        if handler is None:
            raise PayloadNotFound(f"HTTP 404 from {url} {canonical}")
        try:
            items, weight = handler(canonical)
            used = self._charge(weight)
        except BinanceError as error:
            headers = {WEIGHT_HEADER: str(self._charge(1)), **error.headers}
            body = formats.compact_json({"code": error.code, "msg": error.msg})
            return self._response(url, canonical, error.status, headers, body)
        return self._response(
            url, canonical, 200, {WEIGHT_HEADER: str(used)}, formats.compact_json(items)
        )

    def _response(self, url: str, params: dict, status: int, headers: dict, body: str) -> Response:
        headers = {"content-type": "application/json", **headers}
        return Response(url, params, status, headers, body.encode(), self._clock)

    def _archive_file(self, url: str, path: str) -> Response:
        if self.archive_root is None:
            raise TransportError("this simulated Binance has no archive root")
        file = Path(self.archive_root) / ARCHIVE_HOST / path.lstrip("/")
        if not file.is_file():
            raise PayloadNotFound(f"HTTP 404 from {url}")
        return Response(
            url, {}, 200, {"content-type": "application/zip"}, file.read_bytes(), self._clock
        )

    def _charge(self, weight: int) -> int:
        """Add a request's weight to the current minute; 429 once the budget is spent."""
        minute = int(self._clock.timestamp() // 60)
        if minute != self._weight_minute:
            self._weight_minute, self._weight_used = minute, 0
        if self._weight_used + weight > self.weight_limit:
            retry_after = 60 - int(self._clock.timestamp()) % 60
            raise BinanceError(
                429,
                -1003,
                "Too many requests; current limit of IP is "
                f"{self.weight_limit} requests per minute.",
                {"retry-after": str(retry_after)},
            )
        self._weight_used += weight
        return self._weight_used

    # ------------------------------------------------------------------------ endpoints

    def _klines(self, params: dict[str, str]) -> tuple[list, int]:
        query = self._query(params, KLINES_DEFAULT_LIMIT, KLINES_LIMIT)
        interval = params.get("interval")
        if not interval:
            raise _mandatory("interval")
        if interval not in INTERVAL_MS:
            raise BinanceError(400, -1120, "Invalid interval.")
        span = _page_span(query, INTERVAL_MS[interval], self._now_ms())
        candles = self._truth.candles(query.symbol, INTERVAL_MS[interval], span=span)
        rows = _select(candles, candles[:, 0], query, self._now_ms())
        spec = self._specs[query.symbol]
        items = [
            formats.kline_fields(
                tuple(row), INTERVAL_MS[interval], spec["price_decimals"], spec["qty_decimals"]
            )
            for row in rows.tolist()
        ]
        return items, klines_weight(query.limit)

    def _open_interest_hist(self, params: dict[str, str]) -> tuple[list, int]:
        query = self._query(params, OPEN_INTEREST_DEFAULT_LIMIT, OPEN_INTEREST_LIMIT)
        period = params.get("period")
        if not period:
            raise _mandatory("period")
        if period not in OPEN_INTEREST_PERIODS:
            raise _not_valid("period")
        if self.open_interest_history_days is not None and query.start_ms is not None:
            oldest = self._now_ms() - self.open_interest_history_days * 86_400_000
            if query.start_ms < oldest:
                raise BinanceError(400, -1130, "parameter 'startTime' is invalid.")
        span = _page_span(query, INTERVAL_MS[period], self._now_ms())
        table = self._truth.symbol_rows("open_interest", query.symbol, *span_days(span))
        times = table.column("snapshot_ms").to_numpy()
        on_period = times % INTERVAL_MS[period] == 0
        index = _select(np.flatnonzero(on_period), times[on_period], query, self._now_ms())
        spec = self._specs[query.symbol]
        oi, value = table.column("oi_units").to_numpy(), table.column("value_units").to_numpy()
        items = [
            formats.open_interest_hist_item(
                query.symbol,
                int(times[i]),
                int(oi[i]),
                spec["qty_decimals"],
                int(value[i]),
                spec["price_decimals"] + spec["qty_decimals"],
                spec["circulating_supply"],
            )
            for i in index.tolist()
        ]
        return items, 0

    def _funding_rate(self, params: dict[str, str]) -> tuple[list, int]:
        query = self._query(params, FUNDING_DEFAULT_LIMIT, FUNDING_LIMIT)
        span = _page_span(query, FUNDING_STEP_MS, self._now_ms())
        table = self._truth.symbol_rows("funding", query.symbol, *span_days(span))
        times = table.column("funding_time_ms").to_numpy()
        index = _select(np.arange(times.size), times, query, self._now_ms())
        rates, marks = table.column("rate_e8").to_numpy(), table.column("mark_price").to_numpy()
        items = [
            formats.funding_rate_item(query.symbol, int(times[i]), int(rates[i]), float(marks[i]))
            for i in index.tolist()
        ]
        return items, 1

    # -------------------------------------------------------------------------- helpers

    def _query(self, params: dict[str, str], default_limit: int, max_limit: int) -> _Query:
        symbol = params.get("symbol")
        if not symbol:
            raise _mandatory("symbol")
        if symbol not in self._specs:
            raise _invalid_symbol()
        start_ms, end_ms = _optional_ms(params, "startTime"), _optional_ms(params, "endTime")
        if start_ms is not None and end_ms is not None and start_ms > end_ms:
            raise BinanceError(400, -1128, "Combination of optional parameters invalid.")
        limit = default_limit
        if "limit" in params:
            if (
                not _INTEGER.fullmatch(params["limit"])
                or not 1 <= int(params["limit"]) <= max_limit
            ):
                raise _not_valid("limit")
            limit = int(params["limit"])
        return _Query(symbol, start_ms, end_ms, limit)

    def _now_ms(self) -> int:
        return int(self._clock.timestamp() * 1000)


def _optional_ms(params: dict[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not _INTEGER.fullmatch(value):
        raise BinanceError(
            400,
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.",
        )
    return int(value)


def _page_span(query: _Query, step_ms: int, now_ms: int) -> tuple[int, int]:
    """The times `_select` can answer `query` from, on a series with a row every `step_ms`."""
    upper = query.end_ms if query.end_ms is not None else now_ms
    oldest_first = query.start_ms is not None
    return page_span(query.limit, step_ms, upper, query.start_ms, oldest_first=oldest_first)


def _select(rows: np.ndarray, times: np.ndarray, query: _Query, now_ms: int) -> np.ndarray:
    """Binance's window rule over time-sorted `rows` with timestamps `times`.

    Both bounds inclusive. With `startTime`: the first `limit` rows from it; otherwise the
    last `limit` rows up to `endTime`, or up to now when neither is given.
    """
    upper = query.end_ms if query.end_ms is not None else now_ms
    inside = times <= upper
    if query.start_ms is not None:
        inside &= times >= query.start_ms
        return rows[inside][: query.limit]
    return rows[inside][-query.limit :]


@dataclass
class SimulatedExchange:
    """Every simulated venue behind one `Transport`, routed by the URL's host.

    Binance answers ``fapi.binance.com`` and ``data.binance.vision``, Bybit ``api.bybit.com``
    and OKX ``www.okx.com`` (the hosts of the connectors' `REST_BASE`); a host of a venue the
    simulation did not include is refused.
    """

    apis: dict[str, Transport]

    @classmethod
    def from_truth(cls, truth_root: Path, archive_root: Path | None = None) -> SimulatedExchange:
        venues = TruthStore(Path(truth_root), VENUE).manifest["venues"]
        apis: dict[str, Transport] = {}
        if VENUE in venues:
            binance_api = SimulatedBinanceApi.from_truth(truth_root, archive_root)
            apis.update({REST_HOST: binance_api, ARCHIVE_HOST: binance_api})
        if bybit.VENUE in venues:
            apis[urlsplit(bybit.REST_BASE).netloc] = SimulatedBybitApi.from_truth(truth_root)
        if okx.VENUE in venues:
            apis[urlsplit(okx.REST_BASE).netloc] = SimulatedOkxApi.from_truth(truth_root)
        return cls(apis)

    def get(self, url: str, params: Params | None = None) -> Response:
        host = urlsplit(url).netloc
        api = self.apis.get(host)
        if api is None:
            served = sorted(self.apis)
            raise TransportError(f"no simulated venue serves host {host!r} (only {served})")
        return api.get(url, params)
