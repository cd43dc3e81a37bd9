"""The simulator's column-at-a-time text is the venues' text, value for value.

`columns` builds archive rows and websocket payloads over whole arrays; the per-value functions
in `formats` (and `transport.write_ws_segment`) are the reference they must print exactly.
"""

from __future__ import annotations

import gzip
from datetime import date

import numpy as np
import pytest

from include.cryptodw.simulator import columns, formats
from include.cryptodw.simulator.emitter import (
    StreamRecorder,
    aggregate_candles,
    bars_matrix,
    force_order_messages,
    kline_lines,
    metrics_lines,
)
from include.cryptodw.simulator.market import DAY_MS, MarketSimulation, day_start_ms
from include.cryptodw.simulator.presets import get_preset, resolve_specs
from include.cryptodw.simulator.streams import (
    BYBIT_BATCH_MS,
    OKX_PUSH_MS,
    bybit_messages,
    okx_messages,
)
from include.cryptodw.transport import write_ws_segment, ws_segment_dir

DAY = date(2026, 1, 5)
SPECS = resolve_specs(("BTCUSDT", "XRPUSDT", "DOGEUSDT"))


@pytest.fixture(scope="module")
def market_day():
    model = MarketSimulation(
        get_preset("crash"), DAY, date(2026, 1, 6), SPECS, 3, ("binance", "bybit", "okx")
    )
    return next(iter(model.days()))


def test_fixed_prints_what_formats_prints():
    rng = np.random.default_rng(1)
    units = np.r_[0, 1, -1, 10**12, -(10**9), rng.integers(-(10**10), 10**10, 500)]
    decimals = rng.integers(0, 9, units.size)
    expected = [formats.fixed(int(u), int(d)) for u, d in zip(units, decimals, strict=True)]
    assert columns.fixed(units, decimals).to_pylist() == expected
    for d in (0, 3, 8):
        padded = [formats.fixed(int(u), d, 16) for u in units]
        assert columns.fixed(units, d, 16).to_pylist() == padded


def test_archive_rows_are_the_formats_rows(market_day):
    venue_day = market_day.venues["binance"]
    for spec in SPECS:
        minutes = bars_matrix(venue_day.bars[spec.symbol])
        hourly = aggregate_candles(minutes, 3_600_000)
        klines = [
            formats.kline_csv_line(
                formats.kline_fields(tuple(row), 3_600_000, spec.price_decimals, spec.qty_decimals)
            )
            for row in hourly.tolist()
        ]
        assert kline_lines(hourly, 3_600_000, spec).to_pylist() == klines
        snap = venue_day.open_interest[spec.symbol]
        rows = np.arange(1, 289)
        metrics = [
            formats.metrics_csv_line(
                spec.symbol,
                int(snap.snapshot_ms[i]),
                int(snap.oi_units[i]),
                spec.qty_decimals,
                int(snap.value_units[i]),
                spec.price_decimals + spec.qty_decimals,
                tuple(int(r) for r in snap.ratios_e8[i]),
            )
            for i in rows
        ]
        assert metrics_lines(spec, snap, rows).to_pylist() == metrics


def _texts(messages) -> list[tuple[int, str]]:
    return list(zip(messages.received_ms.tolist(), messages.texts.to_pylist(), strict=True))


def test_binance_force_orders_are_the_formats_messages(market_day):
    venue_day = market_day.venues["binance"]
    liq = venue_day.liquidations
    expected = []
    for i in np.flatnonzero(liq.pushed).tolist():
        spec = SPECS[int(liq.symbol_index[i])]
        qty = formats.fixed(int(liq.qty_units[i]), spec.qty_decimals)
        text = formats.force_order_message(
            spec.symbol,
            "SELL" if liq.is_long[i] else "BUY",
            qty,
            formats.fixed(int(liq.order_price_units[i]), spec.price_decimals),
            formats.fixed(int(liq.avg_price_units[i]), spec.price_decimals),
            formats.fixed(int(liq.last_qty_units[i]), spec.qty_decimals),
            int(liq.event_ms[i]),
            int(liq.trade_ms[i]),
        )
        expected.append((int(liq.received_ms[i]), text))
    assert expected and _texts(force_order_messages(venue_day, SPECS)) == expected


def _groups(liq, batch_ms: int) -> list[np.ndarray]:
    """Rows per (symbol, batch) in index order, groups by symbol then batch."""
    keys = sorted(
        {(int(s), int(t) // batch_ms) for s, t in zip(liq.symbol_index, liq.trade_ms, strict=True)}
    )
    batch = liq.trade_ms // batch_ms
    return [np.flatnonzero((liq.symbol_index == s) & (batch == b)) for s, b in keys]


def _received(liq, last: int, batch_ms: int) -> tuple[int, int]:
    push = (int(liq.trade_ms[last]) // batch_ms + 1) * batch_ms
    push += int(liq.event_ms[last] - liq.trade_ms[last])
    return push, push + int(liq.received_ms[last] - liq.event_ms[last])


def test_bybit_pushes_are_the_formats_messages(market_day):
    venue_day = market_day.venues["bybit"]
    liq, expected = venue_day.liquidations, []
    for rows in _groups(liq, BYBIT_BATCH_MS):
        s = int(liq.symbol_index[rows[0]])
        contract = venue_day.contracts[s]
        events = [
            formats.bybit_liquidation(
                contract.instrument,
                "Buy" if liq.is_long[i] else "Sell",
                formats.fixed(int(liq.qty_units[i]), contract.qty_decimals),
                formats.fixed(int(liq.order_price_units[i]), SPECS[s].price_decimals),
                int(liq.trade_ms[i]),
            )
            for i in rows.tolist()
        ]
        push, received = _received(liq, int(rows[-1]), BYBIT_BATCH_MS)
        text = formats.bybit_liquidation_message(contract.instrument, push, events)
        expected.append((received, text))
    assert expected and _texts(bybit_messages(venue_day, SPECS)) == expected


def test_okx_pushes_are_the_formats_messages(market_day):
    venue_day = market_day.venues["okx"]
    liq, expected = venue_day.liquidations, []
    for rows in _groups(liq, OKX_PUSH_MS):
        s = int(liq.symbol_index[rows[0]])
        contract = venue_day.contracts[s]
        details = [
            formats.okx_liquidation_detail(
                "sell" if liq.is_long[i] else "buy",
                "net" if liq.net_mode[i] else ("long" if liq.is_long[i] else "short"),
                str(int(liq.qty_units[i])),
                formats.fixed(int(liq.order_price_units[i]), SPECS[s].price_decimals),
                int(liq.trade_ms[i]),
            )
            for i in rows.tolist()
        ]
        item = formats.okx_liquidation_item(contract.family, details, contract.instrument)
        _, received = _received(liq, int(rows[-1]), OKX_PUSH_MS)
        expected.append((received, formats.okx_liquidation_message(item)))
    assert expected and _texts(okx_messages(venue_day, SPECS)) == expected


def test_recorded_segments_are_what_the_transport_writes(market_day, tmp_path):
    """Same lines as `write_ws_segment` of the day's messages, hour by hour, in receive order."""
    messages = force_order_messages(market_day.venues["binance"], SPECS)
    recorder = StreamRecorder(tmp_path / "sim", "binance", "forceOrder")
    recorder.record(DAY, messages)
    start = day_start_ms(DAY)
    today = sorted((m for m in _texts(messages) if m[0] < start + DAY_MS), key=lambda m: m[0])
    written = sorted(ws_segment_dir(tmp_path / "sim", "binance", "forceOrder", DAY).glob("*"))
    assert recorder.files_written == len(written) == 24
    for path in written:
        name = path.name.removesuffix(".jsonl.gz")
        hour = [m for m in today if max(0, (m[0] - start) // 3_600_000) == int(name[:2])]
        reference = write_ws_segment(tmp_path / "ref", "binance", "forceOrder", DAY, name, hour)
        assert gzip.decompress(path.read_bytes()) == gzip.decompress(reference.read_bytes())
    assert sum(len(gzip.decompress(p.read_bytes()).splitlines()) for p in written) == len(today)


def test_names_needing_json_escapes_are_refused():
    assert columns.plain_name("1000PEPE-USDT-SWAP") == "1000PEPE-USDT-SWAP"
    with pytest.raises(ValueError, match="escaping"):
        columns.plain_name('BAD"USDT')
