"""Typed raw records: one pyarrow schema per raw dataset.

Raw rows keep the exchange's own units and semantics (Binance's order side, base-coin
quantities, USDT values); staging models normalise them. Every timestamp is UTC, stored as a
timezone-naive `timestamp[ms]` so DuckDB reads it as a plain `TIMESTAMP` (faster bucketing than
`TIMESTAMPTZ`). `_source` is the URI of the payload a row was parsed from (lineage).
"""

from __future__ import annotations

import pyarrow as pa

from include.cryptodw.assets import COLLECTOR_COVERAGE_GAPS

TS = pa.timestamp("ms")

KLINES = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("interval", pa.string(), nullable=False),  # "1d", "1h", ...
        pa.field("open_time", TS, nullable=False),
        pa.field("close_time", TS, nullable=False),
        pa.field("open_price", pa.float64(), nullable=False),
        pa.field("high_price", pa.float64(), nullable=False),
        pa.field("low_price", pa.float64(), nullable=False),
        pa.field("close_price", pa.float64(), nullable=False),
        pa.field("volume_base", pa.float64(), nullable=False),
        pa.field("volume_quote", pa.float64(), nullable=False),
        pa.field("trade_count", pa.int64()),
        pa.field("taker_buy_volume_base", pa.float64()),
        pa.field("taker_buy_volume_quote", pa.float64()),
        pa.field("_source", pa.string(), nullable=False),
    ]
)

OPEN_INTEREST = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("snapshot_at", TS, nullable=False),
        # Binance: one side of the book, in base coin / in quote (USDT) at the snapshot.
        pa.field("open_interest_base", pa.float64(), nullable=False),
        pa.field("open_interest_quote", pa.float64()),
        pa.field("_source", pa.string(), nullable=False),
    ]
)

FUNDING = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("funding_time", TS, nullable=False),
        pa.field("funding_rate", pa.float64(), nullable=False),  # decimal per interval
        pa.field("funding_interval_hours", pa.int32()),  # archive only; NULL from REST
        pa.field("mark_price", pa.float64()),  # REST only; NULL from the archive
        pa.field("_source", pa.string(), nullable=False),
    ]
)

LIQUIDATIONS = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),
        # Binance `S`: side of the forced ORDER. SELL closes (liquidates) a long.
        pa.field("order_side", pa.string(), nullable=False),
        pa.field("order_type", pa.string()),
        pa.field("time_in_force", pa.string()),
        pa.field("order_status", pa.string(), nullable=False),
        pa.field("original_qty", pa.float64(), nullable=False),  # base coin
        pa.field("last_filled_qty", pa.float64()),  # base coin
        pa.field("filled_qty", pa.float64(), nullable=False),  # accumulated, base coin
        pa.field("order_price", pa.float64()),  # `p`, the order (bankruptcy-side) price
        pa.field("avg_price", pa.float64(), nullable=False),  # `ap`, average fill price
        pa.field("trade_time", TS, nullable=False),  # `T`
        pa.field("event_time", TS, nullable=False),  # `E`
        pa.field("received_at", TS),  # local receive time of the websocket message
        pa.field("_source", pa.string(), nullable=False),
    ]
)

# One row per (collector gap x UTC day it overlaps): the part of the gap inside that day. The
# same for every venue (include/cryptodw/collector/coverage.py writes and reads the gaps).
COVERAGE_GAPS = pa.schema(
    [
        pa.field("stream", pa.string(), nullable=False),  # the venue's liquidation stream
        pa.field("gap_start", TS, nullable=False),  # the whole gap, as the collector recorded it
        pa.field("gap_end", TS),  # NULL: still open when landed (the collector is down or away)
        pa.field("uncovered_from", TS, nullable=False),  # this row's part of the gap, inside
        pa.field("uncovered_until", TS, nullable=False),  # one UTC day and the landed window
        pa.field("reason", pa.string(), nullable=False),  # collector.coverage.GAP_REASONS
        pa.field("detail", pa.string()),
        pa.field("collector", pa.string(), nullable=False),  # host:pid:start of the recorder
        pa.field("recorded_at", TS, nullable=False),  # when the line used was written
        pa.field("_source", pa.string(), nullable=False),
    ]
)

QUARANTINE = pa.schema(
    [
        pa.field("venue", pa.string(), nullable=False),
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string(), nullable=False),  # the offending line or message, verbatim
        pa.field("_source", pa.string(), nullable=False),
    ]
)

# dataset name -> (schema, event-time column that decides the UTC-day partition)
RAW_DATASETS: dict[str, tuple[pa.Schema, str]] = {
    "klines": (KLINES, "open_time"),
    "open_interest": (OPEN_INTEREST, "snapshot_at"),
    "funding": (FUNDING, "funding_time"),
    "liquidations": (LIQUIDATIONS, "trade_time"),
}

# Raw datasets every venue lands besides its own (see `sources.venues`).
COLLECTOR_DATASETS: dict[str, tuple[pa.Schema, str]] = {
    COLLECTOR_COVERAGE_GAPS: (COVERAGE_GAPS, "uncovered_from"),
}
