"""The Bybit and OKX liquidation websockets, as a recorder would have kept them.

* Bybit `allLiquidation.{symbol}`: every liquidation, pushed in 500 ms batches per symbol. `S` is
  the side of the liquidated POSITION (Buy = a long), `v` the size in base coin, `p` the
  bankruptcy price.
* OKX `liquidation-orders` (SWAP): every liquidation, at most one push per instrument and
  second carrying that second's `details[]`. `side` is the liquidation ORDER's side, `posSide`
  the position (`net` for accounts in one-way mode), `sz` in contracts, `bkPx` the bankruptcy
  price.

Messages are `(receive ms, text)` pairs for `emitter.StreamRecorder`, which files them by
receive day in the segment layout `bybit.read_liquidations` / `okx.read_liquidations` read.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from include.cryptodw.simulator import formats
from include.cryptodw.simulator.market import Liquidations, VenueDay
from include.cryptodw.simulator.presets import SymbolSpec
from include.cryptodw.sources import bybit, okx

BYBIT_BATCH_MS = 500
OKX_PUSH_MS = 1000

MessageBuilder = Callable[[VenueDay, tuple[SymbolSpec, ...]], list[tuple[int, str]]]


def _batches(liq: Liquidations, batch_ms: int) -> list[np.ndarray]:
    """Row indices of each (symbol, batch) group, in trade-time order within a group."""
    if len(liq) == 0:
        return []
    batch = liq.trade_ms // batch_ms
    order = np.lexsort((np.arange(len(liq)), batch, liq.symbol_index))
    key_symbol, key_batch = liq.symbol_index[order], batch[order]
    cuts = np.flatnonzero((key_symbol[1:] != key_symbol[:-1]) | (key_batch[1:] != key_batch[:-1]))
    return np.split(order, cuts + 1)


def _push_times(liq: Liquidations, rows: np.ndarray, batch_ms: int) -> tuple[int, int]:
    """(push ms, receive ms) of a batch: at the batch's end plus the last order's delays."""
    last = int(rows[-1])
    push = (int(liq.trade_ms[last]) // batch_ms + 1) * batch_ms
    push += int(liq.event_ms[last] - liq.trade_ms[last])
    return push, push + int(liq.received_ms[last] - liq.event_ms[last])


def bybit_messages(venue_day: VenueDay, specs: tuple[SymbolSpec, ...]) -> list[tuple[int, str]]:
    """Every liquidation of the day as Bybit's `allLiquidation` pushes."""
    liq, messages = venue_day.liquidations, []
    for rows in _batches(liq, BYBIT_BATCH_MS):
        s = int(liq.symbol_index[rows[0]])
        spec, contract = specs[s], venue_day.contracts[s]
        events = [
            formats.bybit_liquidation(
                contract.instrument,
                "Buy" if liq.is_long[i] else "Sell",
                formats.fixed(int(liq.qty_units[i]), contract.qty_decimals),
                formats.fixed(int(liq.order_price_units[i]), spec.price_decimals),
                int(liq.trade_ms[i]),
            )
            for i in rows.tolist()
        ]
        push, received = _push_times(liq, rows, BYBIT_BATCH_MS)
        messages.append(
            (received, formats.bybit_liquidation_message(contract.instrument, push, events))
        )
    return messages


def okx_details(liq: Liquidations, rows: np.ndarray, spec: SymbolSpec) -> list[dict]:
    """OKX `details[]` of liquidation rows."""
    return [
        formats.okx_liquidation_detail(
            "sell" if liq.is_long[i] else "buy",
            "net" if liq.net_mode[i] else ("long" if liq.is_long[i] else "short"),
            str(int(liq.qty_units[i])),
            formats.fixed(int(liq.order_price_units[i]), spec.price_decimals),
            int(liq.trade_ms[i]),
        )
        for i in rows.tolist()
    ]


def okx_messages(venue_day: VenueDay, specs: tuple[SymbolSpec, ...]) -> list[tuple[int, str]]:
    """Every liquidation of the day as OKX's `liquidation-orders` pushes."""
    liq, messages = venue_day.liquidations, []
    for rows in _batches(liq, OKX_PUSH_MS):
        s = int(liq.symbol_index[rows[0]])
        contract = venue_day.contracts[s]
        details = okx_details(liq, rows, specs[s])
        item = formats.okx_liquidation_item(contract.family, details, contract.instrument)
        _, received = _push_times(liq, rows, OKX_PUSH_MS)
        messages.append((received, formats.okx_liquidation_message(item)))
    return messages


# venue -> (recorded stream, message builder)
VENUE_STREAMS: dict[str, tuple[str, MessageBuilder]] = {
    bybit.VENUE: (bybit.LIQUIDATION_STREAM, bybit_messages),
    okx.VENUE: (okx.LIQUIDATION_STREAM, okx_messages),
}
