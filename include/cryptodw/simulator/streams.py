"""The Bybit and OKX liquidation websockets, as a recorder would have kept them.

* Bybit `allLiquidation.{symbol}`: every liquidation, pushed in 500 ms batches per symbol. `S` is
  the side of the liquidated POSITION (Buy = a long), `v` the size in base coin, `p` the
  bankruptcy price.
* OKX `liquidation-orders` (SWAP): every liquidation, at most one push per instrument and
  second carrying that second's `details[]`. `side` is the liquidation ORDER's side, `posSide`
  the position (`net` for accounts in one-way mode), `sz` in contracts, `bkPx` the bankruptcy
  price.

Messages are built a day at a time as columns (`columns.Messages`: receive ms, text) for
`emitter.StreamRecorder`, which files them by receive day in the segment layout
`bybit.read_liquidations` / `okx.read_liquidations` read. The text is exactly what the
`formats` functions print for one push (tests/unit/simulator/test_columns.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from include.cryptodw.simulator import columns
from include.cryptodw.simulator.columns import Messages
from include.cryptodw.simulator.market import Liquidations, VenueDay
from include.cryptodw.simulator.presets import SymbolSpec
from include.cryptodw.sources import bybit, okx

BYBIT_BATCH_MS = 500
OKX_PUSH_MS = 1000

MessageBuilder = Callable[[VenueDay, tuple[SymbolSpec, ...]], Messages]


def _batches(liq: Liquidations, batch_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows grouped by (symbol, batch), in trade-time order within a group, and where each
    group starts in that order."""
    batch = liq.trade_ms // batch_ms
    order = np.lexsort((np.arange(len(liq)), batch, liq.symbol_index))
    key_symbol, key_batch = liq.symbol_index[order], batch[order]
    cuts = np.flatnonzero((key_symbol[1:] != key_symbol[:-1]) | (key_batch[1:] != key_batch[:-1]))
    starts = np.r_[0, cuts + 1] if len(liq) else np.empty(0, dtype=np.int64)
    return order, starts


def _push_times(
    liq: Liquidations, last: np.ndarray, batch_ms: int
) -> tuple[np.ndarray, np.ndarray]:
    """(push ms, receive ms) of batches ending with rows `last`: at the batch's end plus the
    last order's delays."""
    push = (liq.trade_ms[last] // batch_ms + 1) * batch_ms + (
        liq.event_ms[last] - liq.trade_ms[last]
    )
    return push, push + (liq.received_ms[last] - liq.event_ms[last])


def _per_row(values: list, rows_symbol: np.ndarray) -> pa.Array:
    """A per-symbol name for each row."""
    names = pa.array([columns.plain_name(v) for v in values], pa.string())
    return names.take(pa.array(rows_symbol, pa.int64()))


def bybit_messages(venue_day: VenueDay, specs: tuple[SymbolSpec, ...]) -> Messages:
    """Every liquidation of the day as Bybit's `allLiquidation` pushes
    (`formats.bybit_liquidation_message` of `formats.bybit_liquidation` events)."""
    liq, contracts = venue_day.liquidations, venue_day.contracts
    order, starts = _batches(liq, BYBIT_BATCH_MS)
    index = liq.symbol_index[order]
    price = np.array([s.price_decimals for s in specs], dtype=np.int64)[index]
    qty = np.array([c.qty_decimals for c in contracts], dtype=np.int64)[index]
    instruments = _per_row([c.instrument for c in contracts], index)
    events = columns.join(
        '{"T":',
        columns.ints(liq.trade_ms[order]),
        ',"s":"',
        instruments,
        '","S":"',
        columns.choose(liq.is_long[order], "Buy", "Sell"),
        '","v":"',
        columns.fixed(liq.qty_units[order], qty),
        '","p":"',
        columns.fixed(liq.order_price_units[order], price),
        '"}',
    )
    last = order[np.r_[starts[1:], len(order)] - 1] if len(order) else order
    push, received = _push_times(liq, last, BYBIT_BATCH_MS)
    text = columns.join(
        '{"topic":"allLiquidation.',
        instruments.take(pa.array(starts, pa.int64())),
        '","type":"snapshot","ts":',
        columns.ints(push),
        ',"data":[',
        columns.group_join(events, starts, ","),
        "]}",
    )
    return Messages(received.astype(np.int64), text)


def okx_messages(venue_day: VenueDay, specs: tuple[SymbolSpec, ...]) -> Messages:
    """Every liquidation of the day as OKX's `liquidation-orders` pushes
    (`formats.okx_liquidation_message` of `formats.okx_liquidation_detail` details)."""
    liq, contracts = venue_day.liquidations, venue_day.contracts
    order, starts = _batches(liq, OKX_PUSH_MS)
    index = liq.symbol_index[order]
    price = np.array([s.price_decimals for s in specs], dtype=np.int64)[index]
    is_long = liq.is_long[order]
    position = np.where(liq.net_mode[order], "net", np.where(is_long, "long", "short"))
    details = columns.join(
        '{"bkLoss":"0","bkPx":"',
        columns.fixed(liq.order_price_units[order], price),
        '","ccy":"","posSide":"',
        pa.array(position.astype(object), pa.string()),
        '","side":"',
        columns.choose(is_long, "sell", "buy"),
        '","sz":"',
        columns.ints(liq.qty_units[order]),
        '","ts":"',
        columns.ints(liq.trade_ms[order]),
        '"}',
    )
    first_symbol = index[starts]
    families = _per_row([c.family for c in contracts], first_symbol)
    last = order[np.r_[starts[1:], len(order)] - 1] if len(order) else order
    _, received = _push_times(liq, last, OKX_PUSH_MS)
    text = columns.join(
        '{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[',
        columns.group_join(details, starts, ","),
        '],"instFamily":"',
        families,
        '","instId":"',
        _per_row([c.instrument for c in contracts], first_symbol),
        '","instType":"SWAP","uly":"',
        families,
        '"}]}',
    )
    return Messages(received.astype(np.int64), text)


# venue -> (recorded stream, message builder)
VENUE_STREAMS: dict[str, tuple[str, MessageBuilder]] = {
    bybit.VENUE: (bybit.LIQUIDATION_STREAM, bybit_messages),
    okx.VENUE: (okx.LIQUIDATION_STREAM, okx_messages),
}
