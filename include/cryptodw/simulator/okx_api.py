"""OKX v5 (`instType=SWAP`), in process: the REST endpoints the connector calls, answered from a
simulation's truth (OKX's share of the market).

`SimulatedOkxApi` is a `transport.Transport` for ``www.okx.com``. Every answer is OKX's envelope
``{"code", "msg", "data"}``: code "0" with HTTP 200, or OKX's error code (HTTP 400 for a bad
parameter, 200 for an unknown instrument). History endpoints answer newest first with rows
strictly between `before`/`begin` (newer than) and `after`/`end` (older than), the newest
`limit` of them. Unknown paths raise `PayloadNotFound`.

* ``/api/v5/market/history-candles``: `[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]`,
  `vol` in contracts; bars 1m .. 4H, `6Hutc/12Hutc/1Dutc`, and `6H/12H/1D` aligned to
  Hong Kong midnight (16:00 UTC) as OKX does. `confirm` is "0" for a candle not yet closed
  at the API's clock.
* ``/api/v5/rubik/stat/contracts/open-interest-history``: `[ts, oi, oiCcy, oiUsd]` (contracts,
  coin, USD), one-sided; optionally only the latest `open_interest_points` per period (OKX
  keeps 1,440).
* ``/api/v5/public/funding-rate-history``: `realizedRate` (settled) and `fundingRate` (the
  forecast); optionally only `funding_history_days` deep (OKX: about 3 months).
* ``/api/v5/public/instruments``: the simulated swaps with `ctVal`, `lotSz`, `tickSz`, ...
* ``/api/v5/public/liquidation-orders``: filled liquidations of a family (`uly`/`instFamily`)
  from the last `liquidation_history_ms` (a day, as OKX) before the API's clock, `details[]`
  counted against `limit` (at most 100), the answer naming the family but not the instrument.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from include.cryptodw.simulator import formats
from include.cryptodw.simulator.rest import ApiError, ClockedApi, integer_param, limit_param
from include.cryptodw.simulator.truth import FUNDING_STEP_MS, TruthStore, page_span, span_days
from include.cryptodw.sources import okx
from include.cryptodw.transport import Params, PayloadNotFound, Response, TransportError

HOST = urlsplit(okx.REST_BASE).netloc
MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
HONG_KONG_OFFSET_MS = 16 * HOUR_MS  # 00:00 in Hong Kong (UTC+8) is 16:00 UTC
# bar / period -> (length, alignment offset from UTC midnight)
BARS = {
    "1m": (MINUTE_MS, 0), "3m": (3 * MINUTE_MS, 0), "5m": (5 * MINUTE_MS, 0),
    "15m": (15 * MINUTE_MS, 0), "30m": (30 * MINUTE_MS, 0), "1H": (HOUR_MS, 0),
    "2H": (2 * HOUR_MS, 0), "4H": (4 * HOUR_MS, 0),
    "6H": (6 * HOUR_MS, HONG_KONG_OFFSET_MS), "12H": (12 * HOUR_MS, HONG_KONG_OFFSET_MS),
    "1D": (DAY_MS, HONG_KONG_OFFSET_MS),
    "6Hutc": (6 * HOUR_MS, 0), "12Hutc": (12 * HOUR_MS, 0), "1Dutc": (DAY_MS, 0),
}  # fmt: skip
OPEN_INTEREST_PERIODS = {p: BARS[p] for p in okx.OPEN_INTEREST_PERIODS | {"6H", "12H", "1D"}}
CANDLES_MAX = 300
OPEN_INTEREST_MAX = 100
FUNDING_MAX = 400
LIQUIDATIONS_MAX = 100
LIST_MS = 1_611_916_828_000  # 2021-01-29: when every simulated swap listed


def _missing(name: str) -> ApiError:
    return ApiError(400, "50014", f"Parameter {name} can not be empty")


def _invalid(name: str) -> ApiError:
    return ApiError(400, "51000", f"Parameter {name} error")


def _unknown_instrument() -> ApiError:
    return ApiError(200, "51001", "Instrument ID does not exist")


@dataclass
class SimulatedOkxApi(ClockedApi):
    """OKX's SWAP REST API over one simulation's OKX share."""

    open_interest_points: int | None = None
    funding_history_days: int | None = None
    liquidation_history_ms: int = DAY_MS

    @classmethod
    def from_truth(cls, truth_root: Path, **options) -> SimulatedOkxApi:
        truth = TruthStore(Path(truth_root), okx.VENUE)
        if not truth.simulated:
            raise ValueError(f"the simulation under {truth_root} did not include OKX")
        return cls(truth, **options)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._by_inst = {c["instrument"]: c for c in self.truth.contracts.values()}

    def get(self, url: str, params: Params | None = None) -> Response:
        parts = urlsplit(url)
        canonical = self.tick(params)
        if parts.netloc != HOST:
            raise TransportError(f"the simulated OKX does not serve host {parts.netloc!r}")
        routes = {
            okx.CANDLES_PATH: self._candles,
            okx.OPEN_INTEREST_PATH: self._open_interest,
            okx.FUNDING_HISTORY_PATH: self._funding,
            okx.INSTRUMENTS_PATH: self._instruments,
            okx.LIQUIDATION_ORDERS_PATH: self._liquidation_orders,
        }
        handler = routes.get(parts.path)
        if handler is None:
            raise PayloadNotFound(f"HTTP 404 from {url} {canonical}")
        try:
            body = {"code": "0", "msg": "", "data": handler(canonical)}
            status = 200
        except ApiError as error:
            body, status = {"code": error.code, "msg": error.msg, "data": []}, error.status
        return self.respond(url, canonical, status, body)

    # ------------------------------------------------------------------------ endpoints

    def _candles(self, params: dict[str, str]) -> list:
        contract = self._contract(params)
        bar = params.get("bar", "1m")
        if bar not in BARS:
            raise _invalid("bar")
        length, offset = BARS[bar]
        symbol = contract["symbol"]
        limit = limit_param(params, 100, CANDLES_MAX, _invalid("limit"))
        span = self._span(params, ("before", "after"), limit, length)
        candles = self.truth.candles(symbol, length, offset, span=span)
        rows = self._between(candles, candles[:, 0], params, ("before", "after"), limit)
        spec = self.truth.specs[symbol]
        price, qty, lot = spec["price_decimals"], spec["qty_decimals"], contract["lot_units"]
        return [
            [str(row[0]), *(formats.trimmed(int(v), price) for v in row[1:5]),
             formats.quotient(int(row[5]), lot), formats.trimmed(int(row[5]), qty),
             formats.trimmed(int(row[6]), price + qty),
             "1" if row[0] + length <= self.now_ms else "0"]
            for row in rows.tolist()
        ]  # fmt: skip

    def _open_interest(self, params: dict[str, str]) -> list:
        contract = self._contract(params)
        period = params.get("period", "5m")
        if period not in OPEN_INTEREST_PERIODS:
            raise _invalid("period")
        length, offset = OPEN_INTEREST_PERIODS[period]
        symbol = contract["symbol"]
        limit = limit_param(params, 100, OPEN_INTEREST_MAX, _invalid("limit"))
        if self.open_interest_points is None:
            span = self._span(params, ("begin", "end"), limit, length)
        else:  # the latest points before now, whatever the request asks
            span = page_span(self.open_interest_points + 1, length, self.now_ms)
        table = self.truth.symbol_rows("open_interest", symbol, *span_days(span))
        times = table.column("snapshot_ms").to_numpy()
        on_period = np.flatnonzero((times - offset) % length == 0)
        if self.open_interest_points is not None:
            on_period = on_period[times[on_period] <= self.now_ms][-self.open_interest_points :]
        rows = self._between(on_period, times[on_period], params, ("begin", "end"), limit)
        spec = self.truth.specs[symbol]
        price, qty, lot = spec["price_decimals"], spec["qty_decimals"], contract["lot_units"]
        oi, value = table.column("oi_units").to_numpy(), table.column("value_units").to_numpy()
        return [
            [str(int(times[i])), formats.quotient(int(oi[i]), lot),
             formats.trimmed(int(oi[i]), qty), formats.trimmed(int(value[i]), price + qty)]
            for i in rows.tolist()
        ]  # fmt: skip

    def _funding(self, params: dict[str, str]) -> list:
        contract = self._contract(params)
        limit = limit_param(params, FUNDING_MAX, FUNDING_MAX, _invalid("limit"))
        span = self._span(params, ("before", "after"), limit, FUNDING_STEP_MS)
        table = self.truth.symbol_rows("funding", contract["symbol"], *span_days(span))
        times = table.column("funding_time_ms").to_numpy()
        kept = np.arange(times.size)
        if self.funding_history_days is not None:
            kept = kept[times >= self.now_ms - self.funding_history_days * DAY_MS]
        rows = self._between(kept, times[kept], params, ("before", "after"), limit)
        rates = table.column("rate_e8").to_numpy()
        predicted = table.column("predicted_rate_e8").to_numpy()
        return [
            {"formulaType": "withRate", "fundingRate": formats.trimmed(int(predicted[i]), 8),
             "fundingTime": str(int(times[i])), "instId": contract["instrument"],
             "instType": okx.INST_TYPE, "method": "current_period",
             "realizedRate": formats.trimmed(int(rates[i]), 8)}
            for i in rows.tolist()
        ]  # fmt: skip

    def _instruments(self, params: dict[str, str]) -> list:
        inst_type = params.get("instType")
        if not inst_type:
            raise _missing("instType")
        if inst_type != okx.INST_TYPE:
            return []
        contracts = sorted(self._by_inst.values(), key=lambda c: c["instrument"])
        for key, field_ in (("instId", "instrument"), ("instFamily", "family"), ("uly", "family")):
            if key in params:
                contracts = [c for c in contracts if _names(c)[field_] == params[key]]
        return [self._instrument(c) for c in contracts]

    def _instrument(self, contract: dict) -> dict:
        spec = self.truth.specs[contract["symbol"]]
        names = _names(contract)
        lot = formats.quotient(1, contract["lot_units"])
        return {
            "alias": "", "baseCcy": "", "category": "1", "ctMult": "1", "ctType": "linear",
            "ctVal": contract["ct_val"], "ctValCcy": names["base"], "expTime": "",
            "instFamily": names["family"], "instId": contract["instrument"],
            "instType": okx.INST_TYPE, "lever": "100", "listTime": str(LIST_MS),
            "lotSz": lot, "maxLmtSz": "100000000", "maxMktSz": "1000000", "minSz": lot,
            "optType": "", "quoteCcy": "", "settleCcy": "USDT", "state": "live", "stk": "",
            "tickSz": formats.trimmed(spec["tick_units"], spec["price_decimals"]),
            "uly": names["family"],
        }  # fmt: skip

    def _liquidation_orders(self, params: dict[str, str]) -> list:
        inst_type = params.get("instType")
        if not inst_type:
            raise _missing("instType")
        if inst_type != okx.INST_TYPE:
            raise _invalid("instType")
        family = params.get("instFamily") or params.get("uly")
        if not family:
            raise _missing("uly")
        matches = [c for c in self._by_inst.values() if _names(c)["family"] == family]
        if not matches:
            raise _unknown_instrument()
        if params.get("state", "unfilled") != "filled":
            return []
        contract = matches[0]
        oldest_ms = self.now_ms - self.liquidation_history_ms
        # only the days OKX still answers: a year of liquidations does not fit in memory
        oldest_day = datetime.fromtimestamp(oldest_ms / 1000, UTC).date()
        table = self.truth.symbol_rows("liquidations", contract["symbol"], since=oldest_day)
        times = table.column("trade_time_ms").to_numpy()
        kept = np.flatnonzero(times >= oldest_ms)
        limit = limit_param(params, LIQUIDATIONS_MAX, LIQUIDATIONS_MAX, _invalid("limit"))
        rows = self._between(kept, times[kept], params, ("before", "after"), limit)
        if rows.size == 0:
            return []
        return [formats.okx_liquidation_item(family, self._details(table, rows, contract), None)]

    def _details(self, table, rows: np.ndarray, contract: dict) -> list[dict]:
        price = self.truth.specs[contract["symbol"]]["price_decimals"]
        long_ = table.column("position_side").to_numpy(zero_copy_only=False) == "LONG"
        net = table.column("net_mode").to_numpy(zero_copy_only=False)
        qty, bankrupt = (
            table.column("qty_units").to_numpy(),
            table.column("order_price_units").to_numpy(),
        )
        times = table.column("trade_time_ms").to_numpy()
        return [
            formats.okx_liquidation_detail(
                "sell" if long_[i] else "buy",
                "net" if net[i] else ("long" if long_[i] else "short"),
                str(int(qty[i])),
                formats.fixed(int(bankrupt[i]), price),
                int(times[i]),
            )
            for i in rows.tolist()
        ]

    # -------------------------------------------------------------------------- helpers

    def _contract(self, params: dict[str, str]) -> dict:
        inst_id = params.get("instId")
        if not inst_id:
            raise _missing("instId")
        if inst_id not in self._by_inst:
            raise _unknown_instrument()
        return self._by_inst[inst_id]

    def _span(
        self, params: dict[str, str], keys: tuple[str, str], limit: int, step_ms: int
    ) -> tuple[int, int]:
        """The times `_between` can answer from, on a series with a row every `step_ms`."""
        newer = integer_param(params, keys[0], _invalid(keys[0]))
        older = integer_param(params, keys[1], _invalid(keys[1]))
        upper = older - 1 if older is not None else self.now_ms
        return page_span(limit, step_ms, upper, None if newer is None else newer + 1)

    def _between(
        self,
        rows: np.ndarray,
        times: np.ndarray,
        params: dict[str, str],
        keys: tuple[str, str],
        limit: int,
    ) -> np.ndarray:
        """Rows with `keys[0] < t < keys[1]` (both optional), the newest `limit`, newest first."""
        newer = integer_param(params, keys[0], _invalid(keys[0]))
        older = integer_param(params, keys[1], _invalid(keys[1]))
        inside = times < older if older is not None else np.ones(times.size, dtype=bool)
        if newer is not None:
            inside &= times > newer
        return rows[inside][::-1][:limit]


def _names(contract: dict) -> dict[str, str]:
    family = contract["instrument"].removesuffix("-SWAP")
    return {"instrument": contract["instrument"], "family": family,
            "base": family.split("-")[0]}  # fmt: skip
