"""Great Expectations suites as code: one function per dataset, each returning a
`gx.ExpectationSuite` named after the dataset (STYLE G2, L3).

GX guards the data at three layer boundaries (G1):

- raw slices before they are written to the lake, `raw_<venue>__<dataset>`, one per venue and
  dataset: each venue's raw tables keep its own names, units and side semantics (the pyarrow
  schemas of its connector, `sources.venues.raw_datasets`);
- staging views, `stg_<venue>__<dataset>`, where exchange semantics end (D3);
- the BI-facing marts (`liquidations_daily`, ...), whose column names are the contract.

Some rules span rows, or compare columns with a tolerance, and GE 1.x has no expectation for
them (rows per symbol-day, a kline opening on its interval boundary, long + short = total within
1e-6). For those a spec declares *derived columns* (prefixed `_dq_`), computed from the frame
just before validation, and the suite expects plain things of them.

Expectations at `warning` severity are reported and logged but do not fail the gate. Great
Expectations is imported inside the builders: importing it costs ~3.6 s.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from include.cryptodw import assets
from include.cryptodw.assets import COLLECTOR_COVERAGE_GAPS, KLINE_INTERVALS, RawDataset
from include.cryptodw.sources.venues import raw_datasets
from include.cryptodw.windows import Window

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite
    from great_expectations.expectations import Expectation

WARNING = "warning"
CRITICAL = "critical"

# Binance publishes open interest every 5 minutes: at most 288 snapshots per symbol and day.
OI_SNAPSHOTS_PER_DAY = 288
# Below 90% of them a day has gaps (e.g. archive days with 163 rows); worth a warning only.
OI_SNAPSHOTS_PER_DAY_WARN_BELOW = 260
# Funding settles at most hourly.
FUNDINGS_PER_DAY = 24
FUNDING_RATE_BOUNDS = (-0.05, 0.05)
FUNDING_INTERVAL_HOURS = (1, 2, 4, 8)
ORDER_SIDES = ("BUY", "SELL")
POSITION_SIDES = ("long", "short")
# Day-over-day change (percent) beyond these bounds is suspicious, not necessarily wrong.
CHANGE_PCT_WARN_BOUNDS = (-50.0, 100.0)
# long + short may differ from total by float rounding only.
SUM_RELATIVE_TOLERANCE = 1e-6

Derivation = Callable[[pd.DataFrame], pd.Series]
SuiteBuilder = Callable[[Window | None], "ExpectationSuite"]


class MissingSuiteError(KeyError):
    """A dataset or relation has no suite: a gap in the quality gates."""


@dataclass(frozen=True)
class SuiteSpec:
    """One dataset's suite plus what a runner needs around it."""

    name: str
    build: SuiteBuilder  # window -> suite; raw suites need the window, others use it if given
    time_column: str | None  # the time a warehouse read is windowed on (None: read it whole)
    period: str = "day"  # "week" / "month": `time_column` holds the start date of the period
    key_columns: tuple[str, ...] = ()  # identify failing rows in error messages
    derived: Mapping[str, Derivation] = field(default_factory=dict)

    def suite(self, window: Window | None = None) -> ExpectationSuite:
        """The suite for `window` (None: checks that do not depend on a window only)."""
        return self.build(window)

    def with_derived_columns(self, df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
        """A copy of `df` with the derived columns, and {column: error} for those that failed.

        A derived column that cannot be computed (a source column is missing or has the wrong
        type) is left empty; the caller reports the error as a failure.
        """
        frame = df.copy(deep=False)
        errors: dict[str, str] = {}
        for name, derive in self.derived.items():
            try:
                frame[name] = derive(df)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"
                frame[name] = pd.Series(np.nan, index=df.index, dtype="float64")
        return frame, errors


# --------------------------------------------------------------------------- GX building blocks


@functools.cache
def import_gx() -> Any:
    """Import great_expectations once, without its registration chatter in task logs."""
    logging.getLogger("great_expectations._docs_decorators").setLevel(logging.WARNING)
    import great_expectations as gx

    return gx


def _gxe() -> Any:
    return import_gx().expectations


def _suite(name: str, expectations: Iterable[Expectation]) -> ExpectationSuite:
    return import_gx().ExpectationSuite(name=name, expectations=list(expectations))


def _columns_exist(columns: Sequence[str], *, ordered: bool) -> list[Expectation]:
    gxe = _gxe()
    if ordered:
        return [gxe.ExpectColumnToExist(column=c, column_index=i) for i, c in enumerate(columns)]
    return [gxe.ExpectColumnToExist(column=c) for c in columns]


def _where(condition: str | None) -> dict[str, str]:
    """GE arguments that limit an expectation to the rows matching a pandas query."""
    return {"row_condition": condition, "condition_parser": "pandas"} if condition else {}


def _not_null(
    columns: Iterable[str], severity: str = CRITICAL, *, where: str | None = None
) -> list[Expectation]:
    gxe = _gxe()
    return [
        gxe.ExpectColumnValuesToNotBeNull(column=c, severity=severity, **_where(where))
        for c in columns
    ]


def _null(columns: Iterable[str], *, where: str) -> list[Expectation]:
    gxe = _gxe()
    return [gxe.ExpectColumnValuesToBeNull(column=c, **_where(where)) for c in columns]


def _positive(columns: Iterable[str]) -> list[Expectation]:
    """Values > 0 (nulls are left to the not-null checks)."""
    gxe = _gxe()
    return [
        gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0, strict_min=True) for c in columns
    ]


def _non_negative(columns: Iterable[str]) -> list[Expectation]:
    gxe = _gxe()
    return [gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0) for c in columns]


def _between(
    column: str,
    low: Any = None,
    high: Any = None,
    *,
    strict_max: bool = False,
    severity: str = CRITICAL,
) -> Expectation:
    return _gxe().ExpectColumnValuesToBeBetween(
        column=column, min_value=low, max_value=high, strict_max=strict_max, severity=severity
    )


def _at_least(
    pairs: Iterable[tuple[str, str]], *, strict: bool = False, severity: str = CRITICAL
) -> list[Expectation]:
    """For each (a, b): a >= b (a > b if strict) on every row where both are present."""
    gxe = _gxe()
    return [
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=a,
            column_B=b,
            or_equal=not strict,
            ignore_row_if="either_value_is_missing",
            severity=severity,
        )
        for a, b in pairs
    ]


def _in_set(
    column: str, values: Iterable[Any], severity: str = CRITICAL, *, where: str | None = None
) -> Expectation:
    return _gxe().ExpectColumnValuesToBeInSet(
        column=column, value_set=list(values), severity=severity, **_where(where)
    )


def _matches(column: str, regex: str) -> Expectation:
    return _gxe().ExpectColumnValuesToMatchRegex(column=column, regex=regex)


def _unique(columns: Sequence[str], severity: str = CRITICAL) -> Expectation:
    gxe = _gxe()
    if len(columns) == 1:
        return gxe.ExpectColumnValuesToBeUnique(column=columns[0], severity=severity)
    return gxe.ExpectCompoundColumnsToBeUnique(column_list=list(columns), severity=severity)


def _in_window(column: str, window: Window) -> Expectation:
    """start <= column < end (the window is half-open, in UTC days)."""
    return _between(column, _midnight(window.start), _midnight(window.end), strict_max=True)


def _every_day_present(column: str, window: Window) -> Expectation:
    return _gxe().ExpectColumnDistinctValuesToContainSet(
        column=column, value_set=[_midnight(day) for day in window.days]
    )


def _midnight(day: Any) -> datetime:
    return datetime(day.year, day.month, day.day)


# --------------------------------------------------------------------------- derived columns


def _epoch_ms(ts: pd.Series) -> pd.Series:
    """Milliseconds since the epoch as float (NaN for missing timestamps)."""
    return (pd.to_datetime(ts) - pd.Timestamp(0)) / pd.Timedelta(milliseconds=1)


_INTERVAL = re.compile(r"(\d+)([mhd])")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


def _interval_ms(interval: object) -> float:
    """'1h' -> 3_600_000; NaN for intervals not aligned to the epoch (weeks, months)."""
    match = _INTERVAL.fullmatch(str(interval))
    return float(int(match[1]) * _UNIT_MS[match[2]]) if match else np.nan


def _open_time_offset_ms(df: pd.DataFrame) -> pd.Series:
    """How far a kline opens after its interval boundary (0 = aligned; 1d opens at 00:00)."""
    return _epoch_ms(df["open_time"]) % df["interval"].map(_interval_ms).astype("float64")


def _rows_per_day_column(instrument: str) -> str:
    """The derived column counting rows per instrument and day: `_dq_rows_per_symbol_day`."""
    return f"_dq_rows_per_{instrument}_day"


def _rows_per_instrument_day(time_column: str, instrument: str = "symbol") -> Derivation:
    def derive(df: pd.DataFrame) -> pd.Series:
        day = pd.to_datetime(df[time_column]).dt.floor("D")
        return df.groupby([df[instrument], day])[instrument].transform("size").astype("float64")

    return derive


def _offset_ms(time_column: str, step_ms: int) -> Derivation:
    """How far a timestamp lies after a multiple of `step_ms` since the epoch (0 = aligned)."""

    def derive(df: pd.DataFrame) -> pd.Series:
        return _epoch_ms(df[time_column]) % step_ms

    return derive


def _pair_value(pair: Sequence[str]) -> str:
    return "/".join(pair)


def _column_pair(a: str, b: str) -> Derivation:
    """ "a/b" of each row (missing where either is), to check pairs with a vectorised in-set."""

    def derive(df: pd.DataFrame) -> pd.Series:
        return df[a].astype("string") + "/" + df[b].astype("string")

    return derive


def _sides_vs_total_relative_error(long: str, short: str, total: str) -> Derivation:
    """|long + short - total| relative to the total (absolute below a total of 1)."""

    def derive(df: pd.DataFrame) -> pd.Series:
        difference = (df[long] + df[short] - df[total]).abs()
        return difference / df[total].abs().clip(lower=1.0)

    return derive


def _sides_minus_total(long: str, short: str, total: str) -> Derivation:
    def derive(df: pd.DataFrame) -> pd.Series:
        return (df[long] + df[short] - df[total]).astype("float64")

    return derive


def _outside_range_relative(value: str, low: str, high: str) -> Derivation:
    """How far `value` lies outside [low, high], relative to `high` (0 inside the range).

    Averages can land one float rounding step outside the range of the values they average,
    so this takes a tolerance where a plain column-pair comparison would not.
    """

    def derive(df: pd.DataFrame) -> pd.Series:
        below = (df[low] - df[value]).clip(lower=0)
        above = (df[value] - df[high]).clip(lower=0)
        return (below + above) / df[high].abs().clip(lower=1.0)

    return derive


def _period_start_offset_days(column: str, period: str) -> Derivation:
    """Days after the period's first day (0: Monday for weeks, the 1st for months)."""

    def derive(df: pd.DataFrame) -> pd.Series:
        start = pd.to_datetime(df[column])
        offset = start.dt.weekday if period == "week" else start.dt.day - 1
        return offset.astype("float64")

    return derive


def _calendar_days_in_period(column: str, period: str) -> Derivation:
    def derive(df: pd.DataFrame) -> pd.Series:
        start = pd.to_datetime(df[column])
        days = pd.Series(7, index=df.index) if period == "week" else start.dt.days_in_month
        return days.where(start.notna()).astype("float64")

    return derive


# --------------------------------------------------------------------------- raw suites

# Raw tables keep each venue's names, units and side semantics (its connector's pyarrow schemas,
# `sources.venues.raw_datasets`), so every (venue, dataset) has its own checks. Every raw suite
# starts with the schema's columns, in order, and not-null on its non-nullable columns.
#
# The value sets below are what the venues document; they are written out here rather than
# imported from the connectors, so that the gate does not merely repeat the parser it guards.

OHLC_PRICES = ("open_price", "high_price", "low_price", "close_price")
# high >= low, open, close; open, close >= low
OHLC_ORDER = (
    ("high_price", "low_price"),
    ("high_price", "open_price"),
    ("high_price", "close_price"),
    ("open_price", "low_price"),
    ("close_price", "low_price"),
)
# Bybit and OKX bucket open interest in 5-minute steps since the epoch.
OI_SNAPSHOT_MS = 5 * 60_000

# Bybit `S` of `allLiquidation`: the side of the liquidated POSITION (Buy = a long).
BYBIT_POSITION_SIDES = ("Buy", "Sell")
BYBIT_CONTRACT_TYPES = ("LinearPerpetual", "LinearFutures")  # category=linear
BYBIT_STATUSES = ("PreLaunch", "Trading", "Settling", "Delivering", "Closed")

OKX_INST_TYPES = ("SWAP",)
OKX_SWAP_ID = r"^[A-Z0-9]+-[A-Z0-9]+-SWAP$"  # BTC-USDT-SWAP
OKX_FAMILY = r"^[A-Z0-9]+-[A-Z0-9]+$"  # BTC-USDT
OKX_ORDER_SIDES = ("buy", "sell")  # the liquidation ORDER's side
OKX_POSITION_SIDES = ("long", "short", "net")  # the liquidated position; net: one-way mode
# Selling closes a long, buying closes a short; in net mode the order side alone says which.
OKX_SIDE_PAIRS = (("sell", "long"), ("buy", "short"), ("sell", "net"), ("buy", "net"))
# GE's pandas ExpectColumnPairValuesToBeInSet walks the rows one by one (7 s for the 25k OKX
# liquidations of a crash day, a third of landing it): the pair is checked as one derived
# column, "side/pos_side", with a vectorised in-set instead.
OKX_SIDE_PAIR = "_dq_side_pos_side"
OKX_CONTRACT_TYPES = ("linear", "inverse")
OKX_STATES = ("live", "suspend", "preopen", "test")
OKX_FUNDING_FORMULAS = ("noRate", "withRate")
OKX_FUNDING_METHODS = ("current_period", "next_period")
OKX_OPEN_INTEREST_PERIOD = "5m"  # what the connector lands; 288 snapshots a day

RawChecks = Callable[[Window], list["Expectation"]]


@dataclass(frozen=True)
class RawRules:
    """What the raw suite of one (venue, dataset) checks beyond its schema."""

    checks: RawChecks  # window -> expectations
    key_columns: tuple[str, ...]  # identify failing rows in error messages
    derived: Mapping[str, Derivation] = field(default_factory=dict)


def raw_suite(venue: str, dataset: str, window: Window | None) -> ExpectationSuite:
    """`raw_<venue>__<dataset>`: one landed window of a venue's dataset, before it is written.

    Instruments are a snapshot; their window is the UTC day the venue answered.
    """
    name = RawDataset(venue, dataset).name
    window = _require_window(name, window)
    schema, _ = raw_datasets(venue)[dataset]
    required = [f.name for f in schema if not f.nullable]
    return _suite(
        name,
        [
            *_columns_exist(schema.names, ordered=True),
            *_not_null(required),
            *_RAW_RULES[venue][dataset].checks(window),
        ],
    )


def _require_window(name: str, window: Window | None) -> Window:
    if window is None:
        raise ValueError(f"suite {name} checks event times against the landed window; pass one")
    return window


def _candle_checks(instrument: str, volumes: Sequence[str], window: Window) -> list[Expectation]:
    """OHLCV candles: one per instrument, interval and open time, inside the window."""
    return [
        _unique([instrument, "interval", "open_time"]),
        _in_set("interval", KLINE_INTERVALS),
        _in_window("open_time", window),
        # 1d candles open at 00:00 UTC, 1h candles on the hour.
        _in_set("_dq_open_time_offset_ms", [0]),
        *_positive(OHLC_PRICES),
        *_non_negative(volumes),
        *_at_least(OHLC_ORDER),
    ]


def _snapshot_checks(instrument: str, amounts: Sequence[str], window: Window) -> list[Expectation]:
    """5-minute open-interest snapshots: one per instrument and time, at most 288 a day."""
    per_day = _rows_per_day_column(instrument)
    return [
        _unique([instrument, "snapshot_at"]),
        _in_window("snapshot_at", window),
        *_positive(amounts),
        _between(per_day, 1, OI_SNAPSHOTS_PER_DAY),
        _between(per_day, OI_SNAPSHOTS_PER_DAY_WARN_BELOW, severity=WARNING),
    ]


def _settlement_checks(instrument: str, rate: str, window: Window) -> list[Expectation]:
    """Funding settlements: one per instrument and time, at most hourly, at a sane rate."""
    return [
        _unique([instrument, "funding_time"]),
        _in_window("funding_time", window),
        _between(rate, *FUNDING_RATE_BOUNDS),
        _between(_rows_per_day_column(instrument), 1, FUNDINGS_PER_DAY),
    ]


# ------------------------------------------------------------------ Binance (schemas.py)


def _binance_klines(window: Window) -> list[Expectation]:
    volumes = ["volume_base", "volume_quote", "trade_count"]
    volumes += ["taker_buy_volume_base", "taker_buy_volume_quote"]
    return [
        *_candle_checks("symbol", volumes, window),
        _in_window("close_time", window),
        *_at_least([("close_time", "open_time")], strict=True),
        *_at_least(
            [("volume_base", "taker_buy_volume_base"), ("volume_quote", "taker_buy_volume_quote")]
        ),
    ]


def _binance_open_interest(window: Window) -> list[Expectation]:
    return _snapshot_checks("symbol", ["open_interest_base", "open_interest_quote"], window)


def _binance_funding(window: Window) -> list[Expectation]:
    return [
        *_settlement_checks("symbol", "funding_rate", window),
        _in_set("funding_interval_hours", FUNDING_INTERVAL_HOURS),
        *_positive(["mark_price"]),
    ]


def _binance_liquidations(window: Window) -> list[Expectation]:
    """Forced orders: `order_side` is the ORDER's side (SELL liquidates a long)."""
    return [
        _in_set("order_side", ORDER_SIDES),
        _in_window("trade_time", window),
        *_positive(["original_qty", "filled_qty", "avg_price", "order_price"]),
        *_non_negative(["last_filled_qty"]),
        *_at_least([("original_qty", "filled_qty")]),
        # The stream can repeat a message across a reconnect; staging must not count it twice.
        _unique(["symbol", "order_side", "trade_time", "filled_qty", "avg_price"], WARNING),
    ]


# ------------------------------------------------------------------------- Bybit (linear)


def _bybit_klines(window: Window) -> list[Expectation]:
    return _candle_checks("symbol", ["volume_base", "volume_quote"], window)


def _bybit_open_interest(window: Window) -> list[Expectation]:
    return [
        *_snapshot_checks("symbol", ["open_interest_base", "single_open_interest_base"], window),
        _in_set("_dq_snapshot_offset_ms", [0]),
        # `openInterest` counts both sides, `singleOpenInterest` (when sent) one of them.
        *_at_least([("open_interest_base", "single_open_interest_base")]),
    ]


def _bybit_funding(window: Window) -> list[Expectation]:
    return _settlement_checks("symbol", "funding_rate", window)


def _bybit_instruments(window: Window) -> list[Expectation]:
    """Contract specifications of every linear contract, as listed on the snapshot's day."""
    perpetual = 'contract_type == "LinearPerpetual"'
    minutes = [hours * 60 for hours in FUNDING_INTERVAL_HOURS]
    return [
        _unique(["symbol"]),
        _in_window("snapshot_at", window),
        _in_set("contract_type", BYBIT_CONTRACT_TYPES),
        _in_set("status", BYBIT_STATUSES, WARNING),
        *_positive(["tick_size", "qty_step", "min_order_qty", "max_order_qty"]),
        *_at_least([("max_order_qty", "min_order_qty")]),
        # Perpetuals never deliver; dated futures do (and do not fund: interval 0).
        *_null(["delivery_time"], where=perpetual),
        *_not_null(["delivery_time"], where='contract_type == "LinearFutures"'),
        _in_set("funding_interval_minutes", minutes, WARNING, where=perpetual),
    ]


def _bybit_liquidations(window: Window) -> list[Expectation]:
    """`allLiquidation` events: `side` is the liquidated POSITION (Buy = a long)."""
    return [
        _in_set("side", BYBIT_POSITION_SIDES),
        _in_window("trade_time", window),
        *_positive(["executed_qty", "bankruptcy_price"]),
        # A message is stamped after the liquidations it carries.
        *_at_least([("event_time", "trade_time")], severity=WARNING),
        # Two equal events at the same millisecond are most likely one event recorded twice.
        _unique(["symbol", "side", "trade_time", "executed_qty", "bankruptcy_price"], WARNING),
    ]


# ---------------------------------------------------------------------------- OKX (SWAP)


def _okx_klines(window: Window) -> list[Expectation]:
    return _candle_checks("inst_id", ["volume_contracts", "volume_base", "volume_quote"], window)


def _okx_open_interest(window: Window) -> list[Expectation]:
    amounts = ["open_interest_contracts", "open_interest_coin", "open_interest_usd"]
    return [
        *_snapshot_checks("inst_id", amounts, window),
        _in_set("period", [OKX_OPEN_INTEREST_PERIOD]),
        _in_set("_dq_snapshot_offset_ms", [0]),
    ]


def _okx_funding(window: Window) -> list[Expectation]:
    """Settled funding (`realized_rate`); the forecast it came with is bounded the same way."""
    return [
        *_settlement_checks("inst_id", "realized_rate", window),
        _between("predicted_rate", *FUNDING_RATE_BOUNDS),
        _in_set("formula_type", OKX_FUNDING_FORMULAS, WARNING),
        _in_set("method", OKX_FUNDING_METHODS, WARNING),
    ]


def _okx_instruments(window: Window) -> list[Expectation]:
    """Every SWAP contract with its terms, as listed on the snapshot's day."""
    terms = ["ct_val", "ct_mult", "tick_size", "lot_size_contracts", "min_size_contracts"]
    return [
        _unique(["inst_id"]),
        _in_window("snapshot_at", window),
        _in_set("inst_type", OKX_INST_TYPES),
        _matches("inst_id", OKX_SWAP_ID),
        _matches("inst_family", OKX_FAMILY),
        _in_set("ct_type", OKX_CONTRACT_TYPES),
        _in_set("state", OKX_STATES, WARNING),
        *_positive(terms),
        # OKX leaves the terms empty only until a `preopen` contract lists; staging needs ct_val
        # to turn contracts into coin.
        *_not_null([*terms, "ct_val_ccy", "ct_type"], where='state != "preopen"'),
    ]


def _okx_liquidations(window: Window) -> list[Expectation]:
    """`liquidation-orders` details: `side` is the ORDER's, `pos_side` the POSITION's."""
    return [
        _in_set("inst_type", OKX_INST_TYPES),
        _matches("inst_family", OKX_FAMILY),
        _matches("inst_id", OKX_SWAP_ID),
        _in_set("side", OKX_ORDER_SIDES),
        _in_set("pos_side", OKX_POSITION_SIDES),
        _in_set(OKX_SIDE_PAIR, [_pair_value(pair) for pair in OKX_SIDE_PAIRS]),
        _in_window("trade_time", window),
        *_positive(["qty_contracts", "bankruptcy_price"]),
        *_non_negative(["bankruptcy_loss"]),
        # One payload may hold the same-looking liquidation twice (two liquidations); copies
        # across payloads collapse in the connector. Repeats are worth a look, not a failure.
        _unique(
            ["inst_family", "trade_time", "side", "pos_side", "qty_contracts", "bankruptcy_price"],
            WARNING,
        ),
    ]


# ------------------------------------------------- the liquidation collector (every venue)

# Why the collector was not capturing (collector.coverage.GAP_REASONS, written out here).
GAP_REASONS = (
    "process_start", "unclean_stop", "connect_error", "server_close", "connection_lost",
    "ping_timeout", "subscribe_error", "max_age", "shutdown",
)  # fmt: skip
DAY_MS = 86_400_000


def _coverage_gaps(window: Window) -> list[Expectation]:
    """Collector gaps cut into day parts: each part inside one UTC day of the window."""
    return [
        _unique(["stream", "gap_start", "uncovered_from"]),
        _in_set("reason", GAP_REASONS),
        _in_window("uncovered_from", window),
        _between("uncovered_until", _midnight(window.start), _midnight(window.end)),
        *_at_least([("uncovered_until", "uncovered_from")], strict=True),
        *_at_least([("gap_end", "gap_start")]),
        # a part never crosses midnight (it would land in the wrong day partition)
        _in_set("_dq_part_crosses_midnight", [0]),
    ]


def _part_crosses_midnight(df: pd.DataFrame) -> pd.Series:
    """1 where a gap part ends after the midnight that follows its start, else 0."""
    start, end = _epoch_ms(df["uncovered_from"]), _epoch_ms(df["uncovered_until"])
    return (end > start - start % DAY_MS + DAY_MS).astype("int64")


_COVERAGE_GAP_RULES = RawRules(
    _coverage_gaps,
    ("stream", "gap_start", "uncovered_from"),
    {"_dq_part_crosses_midnight": _part_crosses_midnight},
)


# ------------------------------------------------------------------------------ registry


def _per_day(time_column: str, instrument: str = "symbol") -> dict[str, Derivation]:
    return {_rows_per_day_column(instrument): _rows_per_instrument_day(time_column, instrument)}


_KLINE_OFFSET = {"_dq_open_time_offset_ms": _open_time_offset_ms}
_SNAPSHOT_OFFSET = {"_dq_snapshot_offset_ms": _offset_ms("snapshot_at", OI_SNAPSHOT_MS)}

_RAW_RULES: dict[str, dict[str, RawRules]] = {
    "binance": {
        "klines": RawRules(_binance_klines, ("symbol", "interval", "open_time"), _KLINE_OFFSET),
        "open_interest": RawRules(
            _binance_open_interest, ("symbol", "snapshot_at"), _per_day("snapshot_at")
        ),
        "funding": RawRules(_binance_funding, ("symbol", "funding_time"), _per_day("funding_time")),
        "liquidations": RawRules(_binance_liquidations, ("symbol", "trade_time", "order_side")),
        COLLECTOR_COVERAGE_GAPS: _COVERAGE_GAP_RULES,
    },
    "bybit": {
        "klines": RawRules(_bybit_klines, ("symbol", "interval", "open_time"), _KLINE_OFFSET),
        "open_interest": RawRules(
            _bybit_open_interest,
            ("symbol", "snapshot_at"),
            {**_per_day("snapshot_at"), **_SNAPSHOT_OFFSET},
        ),
        "funding": RawRules(_bybit_funding, ("symbol", "funding_time"), _per_day("funding_time")),
        "instruments": RawRules(_bybit_instruments, ("symbol",)),
        "liquidations": RawRules(_bybit_liquidations, ("symbol", "trade_time", "side")),
        COLLECTOR_COVERAGE_GAPS: _COVERAGE_GAP_RULES,
    },
    "okx": {
        "klines": RawRules(_okx_klines, ("inst_id", "interval", "open_time"), _KLINE_OFFSET),
        "open_interest": RawRules(
            _okx_open_interest,
            ("inst_id", "snapshot_at"),
            {**_per_day("snapshot_at", "inst_id"), **_SNAPSHOT_OFFSET},
        ),
        "funding": RawRules(
            _okx_funding, ("inst_id", "funding_time"), _per_day("funding_time", "inst_id")
        ),
        "instruments": RawRules(_okx_instruments, ("inst_id",)),
        "liquidations": RawRules(
            _okx_liquidations,
            ("inst_family", "trade_time", "side"),
            {OKX_SIDE_PAIR: _column_pair("side", "pos_side")},
        ),
        COLLECTOR_COVERAGE_GAPS: _COVERAGE_GAP_RULES,
    },
}


def _raw_spec(venue: str, dataset: str) -> SuiteSpec:
    rules = _RAW_RULES[venue][dataset]
    return SuiteSpec(
        name=RawDataset(venue, dataset).name,
        build=functools.partial(raw_suite, venue, dataset),
        time_column=raw_datasets(venue)[dataset][1],
        key_columns=rules.key_columns,
        derived=rules.derived,
    )


# --------------------------------------------------------------------------- staging suites

# Every venue's staging model of a dataset returns the same columns (D3); these are the ones
# downstream models rely on. Staging views are windowed on their Hive partition date.
STAGING_TIME_COLUMN = "_partition_date"
STAGING_IDS = ("exchange_id", "symbol", "base_asset", "quote_asset", "contract_type")
CONTRACT_TYPES = ("perpetual", "delivery")


def _staging_suite(
    dataset: str,
    venue: str,
    columns: Sequence[str],
    required: Sequence[str],
    unique: Sequence[str],
    expectations: Iterable[Expectation],
) -> ExpectationSuite:
    """Shared staging checks: the columns, the ids, the venue, one row per key."""
    return _suite(
        f"stg_{venue}__{dataset}",
        [
            *_columns_exist([*STAGING_IDS, *columns, STAGING_TIME_COLUMN], ordered=False),
            *_not_null([*STAGING_IDS, *required, STAGING_TIME_COLUMN]),
            _in_set("exchange_id", [venue]),
            _in_set("contract_type", CONTRACT_TYPES),
            _unique(unique),
            *expectations,
        ],
    )


def stg_liquidations_suite(venue: str, window: Window | None = None) -> ExpectationSuite:
    """`stg_<venue>__liquidations`: one row per liquidation, the position side normalised."""
    amounts = ["liquidated_qty_coin", "avg_fill_price_quote", "liquidated_notional_quote"]
    return _staging_suite(
        "liquidations",
        venue,
        columns=["liquidation_id", "position_side", *amounts, "is_sampled_feed", "liquidated_at"],
        required=["liquidation_id", "position_side", *amounts, "is_sampled_feed", "liquidated_at"],
        unique=["liquidation_id"],
        expectations=[_in_set("position_side", POSITION_SIDES), *_positive(amounts)],
    )


def stg_open_interest_suite(venue: str, window: Window | None = None) -> ExpectationSuite:
    """`stg_<venue>__open_interest`: one row per symbol and snapshot."""
    return _staging_suite(
        "open_interest",
        venue,
        columns=["open_interest_coin", "open_interest_quote", "snapshot_at"],
        required=["open_interest_coin", "snapshot_at"],
        unique=["symbol", "snapshot_at"],
        expectations=_positive(["open_interest_coin", "open_interest_quote"]),
    )


def stg_funding_suite(venue: str, window: Window | None = None) -> ExpectationSuite:
    """`stg_<venue>__funding`: one row per symbol and funding settlement."""
    return _staging_suite(
        "funding",
        venue,
        columns=["funding_rate", "funding_interval_hours", "mark_price_quote", "funding_at"],
        required=["funding_rate", "funding_at"],
        unique=["symbol", "funding_at"],
        expectations=[
            _between("funding_rate", *FUNDING_RATE_BOUNDS),
            *_positive(["funding_interval_hours", "mark_price_quote"]),
        ],
    )


KLINE_PRICES = ("open_price_quote", "high_price_quote", "low_price_quote", "close_price_quote")


def stg_klines_suite(venue: str, window: Window | None = None) -> ExpectationSuite:
    """`stg_<venue>__klines`: one row per symbol, interval and candle."""
    times = ["candle_open_at", "candle_close_at"]
    volumes = ["volume_coin", "volume_quote"]
    high, low = "high_price_quote", "low_price_quote"
    return _staging_suite(
        "klines",
        venue,
        columns=["kline_interval", *KLINE_PRICES, *volumes, *times],
        required=["kline_interval", *KLINE_PRICES, *volumes, *times],
        unique=["symbol", "kline_interval", "candle_open_at"],
        expectations=[
            *_positive(KLINE_PRICES),
            *_non_negative(volumes),
            *_at_least([("candle_close_at", "candle_open_at")], strict=True),
            *_at_least(
                [
                    (high, low),
                    (high, "open_price_quote"),
                    (high, "close_price_quote"),
                    ("open_price_quote", low),
                    ("close_price_quote", low),
                ]
            ),
        ],
    )


def stg_instruments_suite(venue: str, window: Window | None = None) -> ExpectationSuite:
    """`stg_<venue>__instruments`: one row per instrument and snapshot, sizes in coin."""
    sizes = ["contract_size_coin", "tick_size_quote", "lot_size_coin", "min_order_qty_coin"]
    return _staging_suite(
        "instruments",
        venue,
        columns=["venue_instrument_id", *sizes, "snapshot_at"],
        required=["venue_instrument_id", "snapshot_at"],
        unique=["venue_instrument_id", "snapshot_at"],
        expectations=_positive(sizes),
    )


def stg_landing_manifests_suite(window: Window | None = None) -> ExpectationSuite:
    """`stg_landing__manifests`: one row per landed day file; says what was captured when."""
    gxe = _gxe()
    required = [
        "exchange_id", "dataset", "part", "file_sha256", "landed_row_count",
        "is_market_wide", "capture_date", "landed_at", STAGING_TIME_COLUMN,
    ]  # fmt: skip
    return _suite(
        "stg_landing__manifests",
        [
            *_columns_exist([*required, "symbol", "kline_interval"], ordered=False),
            *_not_null(required),
            _unique(["exchange_id", "dataset", "part", "capture_date"]),
            _in_set("exchange_id", assets.VENUES),
            _in_set("dataset", sorted({d for ds in assets.VENUE_DATASETS.values() for d in ds})),
            *_non_negative(["landed_row_count"]),
            gxe.ExpectColumnValuesToMatchRegex(column="file_sha256", regex=r"^[0-9a-f]{64}$"),
            gxe.ExpectColumnPairValuesToBeEqual(
                column_A="capture_date", column_B=STAGING_TIME_COLUMN
            ),
        ],
    )


def stg_collector_coverage_gaps_suite(venue: str, window: Window | None = None) -> ExpectationSuite:
    """`stg_<venue>__collector_coverage_gaps`: one row per collector gap x UTC day part."""
    required = [
        "coverage_gap_id", "exchange_id", "stream", "collector_id", "gap_reason",
        "uncovered_seconds", "is_open_gap", "gap_started_at", "uncovered_start_at",
        "uncovered_end_at", "recorded_at", STAGING_TIME_COLUMN,
    ]  # fmt: skip
    return _suite(
        f"stg_{venue}__{COLLECTOR_COVERAGE_GAPS}",
        [
            *_columns_exist([*required, "gap_detail", "gap_ended_at", "_source"], ordered=False),
            *_not_null(required),
            _unique(["coverage_gap_id"]),
            _in_set("exchange_id", [venue]),
            _in_set("gap_reason", GAP_REASONS),
            *_positive(["uncovered_seconds"]),
            _between("uncovered_seconds", 0, DAY_MS / 1000),
            *_at_least([("uncovered_end_at", "uncovered_start_at")], strict=True),
            *_at_least([("gap_ended_at", "gap_started_at")]),
            _in_set("_dq_start_day_offset_days", [0]),
        ],
    )


def _start_day_offset_days(df: pd.DataFrame) -> pd.Series:
    """Days between a gap part's start and its partition date (0: in its own day)."""
    start = pd.to_datetime(df["uncovered_start_at"]).dt.floor("D")
    return ((start - pd.to_datetime(df[STAGING_TIME_COLUMN])) / pd.Timedelta(days=1)).astype(
        "float64"
    )


_STAGING_SPECS: dict[str, tuple[Callable[..., ExpectationSuite], tuple[str, ...]]] = {
    "liquidations": (stg_liquidations_suite, ("symbol", "liquidated_at")),
    "open_interest": (stg_open_interest_suite, ("symbol", "snapshot_at")),
    "funding": (stg_funding_suite, ("symbol", "funding_at")),
    "klines": (stg_klines_suite, ("symbol", "kline_interval", "candle_open_at")),
    "instruments": (stg_instruments_suite, ("venue_instrument_id", "snapshot_at")),
    COLLECTOR_COVERAGE_GAPS: (
        stg_collector_coverage_gaps_suite,
        ("stream", "gap_started_at", "uncovered_start_at"),
    ),
}
_STAGING_DERIVED: dict[str, Mapping[str, Derivation]] = {
    COLLECTOR_COVERAGE_GAPS: {"_dq_start_day_offset_days": _start_day_offset_days},
}


def _staging_spec(venue: str, dataset: str) -> SuiteSpec:
    build, keys = _STAGING_SPECS[dataset]
    return SuiteSpec(
        name=f"stg_{venue}__{dataset}",
        build=functools.partial(build, venue),
        time_column=STAGING_TIME_COLUMN,
        key_columns=keys,
        derived=_STAGING_DERIVED.get(dataset, {}),
    )


_MANIFESTS_SPEC = SuiteSpec(
    name="stg_landing__manifests",
    build=stg_landing_manifests_suite,
    time_column=STAGING_TIME_COLUMN,
    key_columns=("exchange_id", "dataset", "part", "capture_date"),
)


# --------------------------------------------------------------------------- mart suites

GRAIN_COLUMNS = ("exchange_id", "base_asset")
PERIOD_COLUMNS = ("days_in_period", "days_with_data", "is_complete_period")
PERIOD_DATE_COLUMNS = {"day": None, "week": "week_start_date", "month": "month_start_date"}

LIQUIDATION_USD = ("long_liquidations_usd", "short_liquidations_usd", "total_liquidations_usd")
LIQUIDATION_COIN = ("long_liquidations_coin", "short_liquidations_coin")
LIQUIDATION_COUNTS = ("long_liquidation_count", "short_liquidation_count", "liquidation_count")
LIQUIDATION_MEASURES = (
    *LIQUIDATION_USD, *LIQUIDATION_COIN, *LIQUIDATION_COUNTS,
    "largest_liquidation_usd", "is_sampled_feed",
)  # fmt: skip

OPEN_INTEREST_COIN = tuple(f"open_interest_coin_{agg}" for agg in ("close", "avg", "min", "max"))
OPEN_INTEREST_USD = tuple(f"open_interest_usd_{agg}" for agg in ("close", "avg", "min", "max"))
OPEN_INTEREST_MEASURES = (
    *OPEN_INTEREST_COIN, *OPEN_INTEREST_USD,
    "snapshot_count", "open_interest_usd_change_pct", "open_interest_coin_change_pct",
)  # fmt: skip

PRICE_OHLC = ("open_usd", "high_usd", "low_usd", "close_usd")
PRICE_MEASURES = (*PRICE_OHLC, "volume_coin", "volume_usd", "change_pct")


def _mart_columns(date_column: str, measures: Sequence[str], period: str) -> list[str]:
    extra = PERIOD_COLUMNS if period != "day" else ()
    return [date_column, *GRAIN_COLUMNS, *measures, *extra]


def _mart_frame_checks(
    date_column: str, measures: Sequence[str], period: str, window: Window | None
) -> list[Expectation]:
    """Columns, grain and period rules every mart shares."""
    checks = [
        *_columns_exist(_mart_columns(date_column, measures, period), ordered=False),
        *_not_null([date_column, *GRAIN_COLUMNS]),
        _unique([date_column, *GRAIN_COLUMNS]),
    ]
    if period == "day":
        if window is not None:
            checks.append(_every_day_present(date_column, window))
        return checks
    gxe = _gxe()
    return [
        *checks,
        *_not_null(PERIOD_COLUMNS),
        # Weeks start on Monday (ISO), months on the 1st.
        _in_set("_dq_period_start_offset_days", [0]),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="days_in_period",
            column_B="_dq_calendar_days_in_period",
            ignore_row_if="either_value_is_missing",
        ),
        *_non_negative(["days_with_data"]),
        *_at_least([("days_in_period", "days_with_data")]),
    ]


def _period_derived(date_column: str, period: str) -> dict[str, Derivation]:
    if period == "day":
        return {}
    return {
        "_dq_period_start_offset_days": _period_start_offset_days(date_column, period),
        "_dq_calendar_days_in_period": _calendar_days_in_period(date_column, period),
    }


# Seconds in one period of each grain; weeks and months have `days_in_period` days.
PERIOD_SECONDS = {"hour": 3_600, "day": 86_400}
LIQUIDATION_COVERAGE = ("captured_seconds", "capture_coverage_pct", "has_capture_gap")
TRAILING_LIQUIDATIONS = tuple(
    f"{side}_liquidations_{horizon}_usd" for horizon in ("24h", "7d", "30d")
    for side in ("long", "short")
)  # fmt: skip
TRAILING_COVERAGE = ("capture_coverage_7d_pct", "capture_coverage_30d_pct")


def _liquidation_checks(period: str) -> list[Expectation]:
    """Measure and capture-coverage rules every liquidation mart shares.

    Measures are NULL only for a period without a second of capture (never a silent zero).
    """
    measures = [*LIQUIDATION_USD, *LIQUIDATION_COIN, *LIQUIDATION_COUNTS]
    checks = [
        *_not_null(measures, where="captured_seconds > 0"),
        *_not_null(["is_sampled_feed", *LIQUIDATION_COVERAGE]),
        *_non_negative([*measures, "largest_liquidation_usd", "captured_seconds"]),
        _between("_dq_usd_sides_vs_total", 0, SUM_RELATIVE_TOLERANCE),
        _in_set("_dq_count_sides_minus_total", [0]),
        *_at_least([("total_liquidations_usd", "largest_liquidation_usd")]),
        _between("capture_coverage_pct", 0, 100),
        _between("_dq_coverage_pct_error", 0, 1e-9),
    ]
    if period in PERIOD_SECONDS:  # a gap flag of an hour or day is exactly "not all captured"
        checks.append(_in_set("_dq_gap_flag_mismatch", [0]))
    return checks


def liquidations_hourly_suite(window: Window | None = None) -> ExpectationSuite:
    """`liquidations_hourly`: exchange x base asset x UTC hour of every landed day."""
    keys = ["hour_start_at", *GRAIN_COLUMNS]
    columns = [*keys, "liquidation_date", *LIQUIDATION_MEASURES, *LIQUIDATION_COVERAGE]
    checks = [
        *_columns_exist(columns, ordered=False),
        *_not_null([*keys, "liquidation_date"]),
        _unique(keys),
        _in_set("_dq_hour_offset_ms", [0]),  # on the hour, inside its liquidation_date
    ]
    if window is not None:
        checks.append(_every_day_present("liquidation_date", window))
    return _suite("liquidations_hourly", [*checks, *_liquidation_checks("hour")])


def _liquidations_suite(name: str, period: str, window: Window | None) -> ExpectationSuite:
    date_column = PERIOD_DATE_COLUMNS[period] or "liquidation_date"
    measures = [*LIQUIDATION_MEASURES, *LIQUIDATION_COVERAGE]
    trailing = []
    if period == "day":
        measures += [*TRAILING_LIQUIDATIONS, *TRAILING_COVERAGE]
        trailing = [
            *_non_negative(TRAILING_LIQUIDATIONS),
            *(_between(column, 0, 100 + 1e-9) for column in TRAILING_COVERAGE),
            _in_set("_dq_trailing_windows_out_of_order", [0]),
        ]
    return _suite(
        name,
        [
            *_mart_frame_checks(date_column, measures, period, window),
            *_liquidation_checks(period),
            *trailing,
        ],
    )


def liquidations_daily_suite(window: Window | None = None) -> ExpectationSuite:
    """`liquidations_daily`: exchange x base asset x UTC day; with a window, every day present."""
    return _liquidations_suite("liquidations_daily", "day", window)


def liquidations_weekly_suite(window: Window | None = None) -> ExpectationSuite:
    """`liquidations_weekly`: exchange x base asset x ISO week."""
    return _liquidations_suite("liquidations_weekly", "week", window)


def liquidations_monthly_suite(window: Window | None = None) -> ExpectationSuite:
    """`liquidations_monthly`: exchange x base asset x calendar month."""
    return _liquidations_suite("liquidations_monthly", "month", window)


def _coverage_pct_error(period: str, date_column: str) -> Derivation:
    """|capture_coverage_pct - captured_seconds / the period's calendar seconds x 100|."""

    def derive(df: pd.DataFrame) -> pd.Series:
        seconds = PERIOD_SECONDS.get(period)
        if seconds is None:  # weeks and months: their calendar days, not the stated ones
            seconds = _calendar_days_in_period(date_column, period)(df) * 86_400
        return (df["capture_coverage_pct"] - df["captured_seconds"] / seconds * 100).abs()

    return derive


def _gap_flag_mismatch(period: str) -> Derivation:
    """1 where has_capture_gap is not exactly "fewer seconds captured than the period has"."""

    def derive(df: pd.DataFrame) -> pd.Series:
        expected = df["captured_seconds"] < PERIOD_SECONDS[period]
        return (df["has_capture_gap"].astype(bool) != expected).astype("int64")

    return derive


def _hour_offset_ms(df: pd.DataFrame) -> pd.Series:
    """How far an hour starts after the hour boundary, or from its liquidation_date (0: ok)."""
    hour = pd.to_datetime(df["hour_start_at"])
    outside_day = hour.dt.floor("D") != pd.to_datetime(df["liquidation_date"])
    return (_epoch_ms(hour) % 3_600_000).where(~outside_day, -1.0)


def _trailing_windows_out_of_order(df: pd.DataFrame) -> pd.Series:
    """1 where a trailing sum is not within the longer one, or 24h is not the day's value."""
    holds = pd.Series(True, index=df.index)
    for side in ("long", "short"):
        day, week, month = (df[f"{side}_liquidations_{h}_usd"] for h in ("24h", "7d", "30d"))
        holds &= (day.fillna(0) <= week * (1 + 1e-9)) | week.isna()
        holds &= (week <= month * (1 + 1e-9)) | week.isna()
        same = (day == df[f"{side}_liquidations_usd"]) | (
            day.isna() & df[f"{side}_liquidations_usd"].isna()
        )
        holds &= same
    return (~holds).astype("int64")


def _open_interest_suite(name: str, period: str, window: Window | None) -> ExpectationSuite:
    date_column = PERIOD_DATE_COLUMNS[period] or "snapshot_date"
    most_snapshots = OI_SNAPSHOTS_PER_DAY if period == "day" else None
    ranges = []
    for unit in ("coin", "usd"):
        low, close, high = (f"open_interest_{unit}_{agg}" for agg in ("min", "close", "max"))
        ranges += [(close, low), (high, close), (high, low)]
    return _suite(
        name,
        [
            *_mart_frame_checks(date_column, OPEN_INTEREST_MEASURES, period, window),
            *_not_null([*OPEN_INTEREST_COIN, *OPEN_INTEREST_USD, "snapshot_count"]),
            *_non_negative([*OPEN_INTEREST_COIN, *OPEN_INTEREST_USD]),
            # min <= close <= max, and min <= avg <= max up to float rounding
            *_at_least(ranges),
            _between("_dq_coin_avg_outside_range", 0, 1e-9),
            _between("_dq_usd_avg_outside_range", 0, 1e-9),
            _between("snapshot_count", 1, most_snapshots),
            _between("open_interest_usd_change_pct", *CHANGE_PCT_WARN_BOUNDS, severity=WARNING),
            _between("open_interest_coin_change_pct", *CHANGE_PCT_WARN_BOUNDS, severity=WARNING),
        ],
    )


def open_interest_daily_suite(window: Window | None = None) -> ExpectationSuite:
    """`open_interest_daily`: exchange x base asset x UTC day (a stock: close/avg/min/max)."""
    return _open_interest_suite("open_interest_daily", "day", window)


def open_interest_weekly_suite(window: Window | None = None) -> ExpectationSuite:
    """`open_interest_weekly`: exchange x base asset x ISO week."""
    return _open_interest_suite("open_interest_weekly", "week", window)


def open_interest_monthly_suite(window: Window | None = None) -> ExpectationSuite:
    """`open_interest_monthly`: exchange x base asset x calendar month."""
    return _open_interest_suite("open_interest_monthly", "month", window)


def prices_daily_suite(window: Window | None = None) -> ExpectationSuite:
    """`prices_daily`: exchange x base asset x UTC day, from daily candles."""
    return _suite(
        "prices_daily",
        [
            *_mart_frame_checks("price_date", PRICE_MEASURES, "day", window),
            *_not_null([*PRICE_OHLC, "volume_coin", "volume_usd"]),
            *_positive(PRICE_OHLC),
            *_non_negative(["volume_coin", "volume_usd"]),
            *_at_least(
                [
                    ("high_usd", "low_usd"),
                    ("high_usd", "open_usd"),
                    ("high_usd", "close_usd"),
                    ("open_usd", "low_usd"),
                    ("close_usd", "low_usd"),
                ]
            ),
            _between("change_pct", *CHANGE_PCT_WARN_BOUNDS, severity=WARNING),
        ],
    )


def _liquidation_derived(period: str, date_column: str) -> dict[str, Derivation]:
    derived = {
        "_dq_usd_sides_vs_total": _sides_vs_total_relative_error(*LIQUIDATION_USD),
        "_dq_count_sides_minus_total": _sides_minus_total(*LIQUIDATION_COUNTS),
        "_dq_coverage_pct_error": _coverage_pct_error(period, date_column),
    }
    if period in PERIOD_SECONDS:
        derived["_dq_gap_flag_mismatch"] = _gap_flag_mismatch(period)
    if period == "day":
        derived["_dq_trailing_windows_out_of_order"] = _trailing_windows_out_of_order
    return derived


def _mart_spec(name: str, build: SuiteBuilder, period: str) -> SuiteSpec:
    entity = name.rsplit("_", 1)[0]
    day_column = {"liquidations": "liquidation_date", "open_interest": "snapshot_date"}
    date_column = PERIOD_DATE_COLUMNS[period] or day_column.get(entity, "price_date")
    derived = dict(_period_derived(date_column, period))
    if entity == "liquidations":
        derived.update(_liquidation_derived(period, date_column))
    if entity == "open_interest":
        for unit in ("coin", "usd"):
            avg, low, high = (f"open_interest_{unit}_{agg}" for agg in ("avg", "min", "max"))
            derived[f"_dq_{unit}_avg_outside_range"] = _outside_range_relative(avg, low, high)
    return SuiteSpec(
        name=name,
        build=build,
        time_column=date_column,
        period=period,
        key_columns=(date_column, *GRAIN_COLUMNS),
        derived=derived,
    )


_MART_SPECS = {
    spec.name: spec
    for spec in (
        SuiteSpec(
            name="liquidations_hourly",
            build=liquidations_hourly_suite,
            time_column="liquidation_date",
            key_columns=("hour_start_at", *GRAIN_COLUMNS),
            derived={
                **_liquidation_derived("hour", "hour_start_at"),
                "_dq_hour_offset_ms": _hour_offset_ms,
            },
        ),
        _mart_spec("liquidations_daily", liquidations_daily_suite, "day"),
        _mart_spec("liquidations_weekly", liquidations_weekly_suite, "week"),
        _mart_spec("liquidations_monthly", liquidations_monthly_suite, "month"),
        _mart_spec("open_interest_daily", open_interest_daily_suite, "day"),
        _mart_spec("open_interest_weekly", open_interest_weekly_suite, "week"),
        _mart_spec("open_interest_monthly", open_interest_monthly_suite, "month"),
        _mart_spec("prices_daily", prices_daily_suite, "day"),
    )
}

# --------------------------------------------------------------------------- analytics marts

ANALYTICS_MAJORS = ("btc", "eth", "bnb", "sol", "xrp")
LIQUIDATION_HORIZONS = ("24h", "7d", "30d")


def _violations(rule: Callable[[pd.DataFrame], pd.Series]) -> Derivation:
    """1 where a row breaks `rule` (a row-wise boolean that must hold), else 0."""

    def derive(df: pd.DataFrame) -> pd.Series:
        holds = rule(df).astype("boolean").fillna(True)
        return (~holds).astype("int64")

    return derive


def _zero(columns: Iterable[str]) -> list[Expectation]:
    return [_between(column, 0, 0) for column in columns]


def asset_prices_daily_suite(window: Window | None = None) -> ExpectationSuite:
    """`asset_prices_daily`: one reference price per asset x UTC day."""
    ohlc = ("open_usd", "high_usd", "low_usd", "close_usd")
    return _suite(
        "asset_prices_daily",
        [
            _unique(["price_date", "base_asset"]),
            *_not_null([*ohlc, "venues_reporting"]),
            *_positive(ohlc),
            _between("venues_reporting", 1),
            *_at_least([("high_usd", c) for c in ("open_usd", "low_usd", "close_usd")]),
            *_at_least([("open_usd", "low_usd"), ("close_usd", "low_usd")]),
            _between("change_pct", *CHANGE_PCT_WARN_BOUNDS, severity=WARNING),
        ],
    )


def support_levels_suite(window: Window | None = None) -> ExpectationSuite:
    """`support_levels`: price levels per asset with when each was first broken."""
    return _suite(
        "support_levels",
        [
            _unique(["base_asset", "level_type", "level_usd", "established_date"]),
            _in_set("level_type", ("round_number", "swing_low")),
            *_positive(["level_usd", "level_step_usd"]),
            *_zero(f"_dq_{rule}" for rule in _SUPPORT_RULES),
        ],
    )


_SUPPORT_RULES = {
    "broken_flag_matches_date": lambda df: df["is_broken"] == df["first_broken_date"].notna(),
    "one_next_level_per_asset": lambda df: (
        df.groupby("base_asset")["is_next_below"].transform("sum") <= 1
    ),
    "next_level_is_below_the_close": lambda df: (
        ~df["is_next_below"].astype(bool) | (df["level_usd"] < df["latest_close_usd"])
    ),
}


def contagion_daily_suite(window: Window | None = None) -> ExpectationSuite:
    """`contagion_daily`: each alt's co-movement with BTC per UTC day."""
    return _suite(
        "contagion_daily",
        [
            _unique(["price_date", "base_asset"]),
            _between("btc_correlation_14d", -1.0, 1.0),
            _between("btc_explained_share", 0.0, 1.0),
            _between("paired_days_14d", 0, 14),
            _gxe().ExpectColumnValuesToNotBeInSet(column="base_asset", value_set=["BTC"]),
            _between("btc_beta_14d", -5.0, 5.0, severity=WARNING),
        ],
    )


def liquidation_cascades_suite(window: Window | None = None) -> ExpectationSuite:
    """`liquidation_cascades`: one row per detected cascade episode."""
    return _suite(
        "liquidation_cascades",
        [
            _unique(["cascade_id"]),
            *_not_null(["cascade_id", "base_asset", "start_at", "end_at"]),
            _in_set("dominant_side", ("long", "short")),
            *_non_negative(["long_liquidations_usd", "short_liquidations_usd"]),
            _between("venues_involved", 1),
            *_zero(f"_dq_{rule}" for rule in _CASCADE_RULES),
        ],
    )


_CASCADE_RULES = {
    "starts_before_it_ends": lambda df: df["start_at"] < df["end_at"],
    "peak_within_total": lambda df: (
        5 * df["peak_liquidation_usd_per_minute"]
        <= (df["long_liquidations_usd"] + df["short_liquidations_usd"]) * (1 + 1e-9)
    ),
}


def treasury_holdings_daily_suite(window: Window | None = None) -> ExpectationSuite:
    """`treasury_holdings_daily`: holder x UTC day, valued at the day's BTC close."""
    return _suite(
        "treasury_holdings_daily",
        [
            _unique(["holding_date", "holder_id"]),
            *_positive(["btc_holdings", "cost_basis_usd", "btc_close_usd"]),
            *_zero(f"_dq_{rule}" for rule in _TREASURY_RULES),
        ],
    )


_TREASURY_RULES = {
    "filing_not_after_the_day": lambda df: df["holdings_as_of_date"] <= df["holding_date"],
    "pnl_is_value_minus_cost": lambda df: (
        (
            df["unrealized_pnl_usd"]
            - (df["btc_holdings"] * df["btc_close_usd"] - df["cost_basis_usd"])
        ).abs()
        <= 1e-6 * df["market_value_usd"].abs()
    ),
}


def market_stress_daily_suite(window: Window | None = None) -> ExpectationSuite:
    """`market_stress_daily`: one row per UTC day of market-wide stress measures."""
    liquidation_columns = [
        f"{scope}{side}_liquidations_{horizon}_usd"
        for scope in ("btc_", "")
        for side in ("long", "short")
        for horizon in LIQUIDATION_HORIZONS
    ]
    return _suite(
        "market_stress_daily",
        [
            _unique(["stress_date"]),
            _in_set("breadth_label", ("systemic", "localized", "calm")),
            _between("assets_tracked", 0, len(ANALYTICS_MAJORS)),
            *_non_negative([*liquidation_columns, "open_interest_usd", "cascade_count"]),
            *_at_least([("assets_tracked", "assets_down")]),
            *_zero(f"_dq_{rule}" for rule in _STRESS_RULES),
            _between("open_interest_1d_change_pct", *CHANGE_PCT_WARN_BOUNDS, severity=WARNING),
        ],
    )


def _horizons_nest(df: pd.DataFrame) -> pd.Series:
    holds = pd.Series(True, index=df.index)
    for scope in ("btc_", ""):
        for side in ("long", "short"):
            day, week, month = (
                df[f"{scope}{side}_liquidations_{h}_usd"] for h in ("24h", "7d", "30d")
            )
            holds &= (day <= week * (1 + 1e-9)) & (week <= month * (1 + 1e-9))
    return holds


_STRESS_RULES = {
    "liquidation_horizons_nest": _horizons_nest,
    "deleveraging_needs_30d_history": lambda df: (
        df["is_deleveraging"].isna() == df["open_interest_30d_change_pct"].isna()
    ),
}


def _analytics_spec(
    build: SuiteBuilder, time_column: str | None, keys: tuple[str, ...], rules: Mapping
) -> SuiteSpec:
    name = build.__name__.removesuffix("_suite")
    derived = {f"_dq_{rule}": _violations(check) for rule, check in rules.items()}
    return SuiteSpec(name, build, time_column, key_columns=keys, derived=derived)


_MART_SPECS.update(
    (spec.name, spec)
    for spec in (
        _analytics_spec(asset_prices_daily_suite, "price_date", ("price_date", "base_asset"), {}),
        _analytics_spec(support_levels_suite, None, ("base_asset", "level_usd"), _SUPPORT_RULES),
        _analytics_spec(contagion_daily_suite, "price_date", ("price_date", "base_asset"), {}),
        _analytics_spec(liquidation_cascades_suite, "start_date", ("cascade_id",), _CASCADE_RULES),
        _analytics_spec(
            treasury_holdings_daily_suite,
            "holding_date",
            ("holding_date", "holder_id"),
            _TREASURY_RULES,
        ),
        _analytics_spec(market_stress_daily_suite, "stress_date", ("stress_date",), _STRESS_RULES),
    )
)


# --------------------------------------------------------------------------- lookup

# Relations that deliberately have no suite, with the reason. Everything else in a validated
# layer must have one: a relation without a suite is a gap, and the runner fails on it.
UNVALIDATED_RELATIONS: dict[str, str] = {}

_LAYERED_NAME = re.compile(r"(?P<layer>raw|stg)_(?P<venue>[a-z0-9]+)__(?P<dataset>[a-z0-9_]+)")


def suite_spec(name: str) -> SuiteSpec:
    """The spec of suite `name` (raw_<venue>__<dataset>, stg_<venue>__<dataset> or a mart)."""
    if name in _MART_SPECS:
        return _MART_SPECS[name]
    if name == _MANIFESTS_SPEC.name:
        return _MANIFESTS_SPEC
    match = _LAYERED_NAME.fullmatch(name)
    if match and match["layer"] == "raw" and match["dataset"] in _RAW_RULES.get(match["venue"], {}):
        return _raw_spec(match["venue"], match["dataset"])
    if match and match["layer"] == "stg" and match["dataset"] in _STAGING_SPECS:
        return _staging_spec(match["venue"], match["dataset"])
    raise MissingSuiteError(name)


def suite_names(layer: str) -> list[str]:
    """Every suite of `layer` ("raw", "staging" or "marts") for the venues in `assets.VENUES`.

    Raw: one per (venue, dataset) of `assets.VENUE_DATASETS`, whether or not it is written yet
    (`suite_spec` raises `MissingSuiteError` for a gap).
    """
    if layer == "raw":
        return [RawDataset(v, d).name for v in assets.VENUES for d in assets.VENUE_DATASETS[v]]
    if layer == "staging":
        venues = [
            f"stg_{v}__{d}"
            for v in assets.VENUES
            for d in assets.VENUE_DATASETS[v]
            if d in _STAGING_SPECS
        ]
        return [*venues, _MANIFESTS_SPEC.name]
    if layer == "marts":
        return list(_MART_SPECS)
    raise ValueError(f"unknown layer {layer!r}")
