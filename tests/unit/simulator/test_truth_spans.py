"""The simulated APIs read only the days a request can be answered from (`page_span`), not the
whole simulated window per request; their answers must not change for it.

Every request below is sent twice, in the same order, to a fresh exchange: once as it runs, once
with `page_span` widened to everything (every request then reads the whole window, as the APIs
did before they bounded their reads). Status and body must be the same byte for byte: the time
parameters fall inside the window, on day boundaries, outside it, and page with cursors.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime

import numpy as np
import pyarrow.parquet as pq
import pytest

from include.cryptodw.simulator import (
    bybit_api,
    exchange,
    okx_api,
    simulate,
    simulated_exchange,
    truth,
)
from include.cryptodw.simulator.emitter import candle_start
from include.cryptodw.simulator.okx_api import SimulatedOkxApi
from include.cryptodw.simulator.truth import TruthStore
from include.cryptodw.sources import binance, bybit, okx

START, END = date(2026, 1, 30), date(2026, 2, 3)
SYMBOLS = ("BTCUSDT", "ETHUSDT")
EVERYTHING = (0, 4_102_444_800_000)  # 1970 .. 2100: the whole window, whatever the request


def ms(*when: int) -> int:
    return int(datetime(*when, tzinfo=UTC).timestamp() * 1000)


MIDDAY = ms(2026, 1, 31, 12, 7)
MIDNIGHT = ms(2026, 2, 1)
BEFORE_WINDOW = ms(2026, 1, 20)
AFTER_WINDOW = ms(2026, 3, 1)

BINANCE = [
    (binance.KLINES_PATH, {"symbol": "BTCUSDT", "interval": "1m", "limit": 7, "endTime": MIDDAY}),
    (binance.KLINES_PATH, {"symbol": "BTCUSDT", "interval": "1m", "limit": 5, "startTime": MIDDAY}),
    (binance.KLINES_PATH, {"symbol": "ETHUSDT", "interval": "1h", "startTime": MIDNIGHT,
                           "endTime": MIDNIGHT + 5 * 3_600_000}),
    (binance.KLINES_PATH, {"symbol": "BTCUSDT", "interval": "1d", "limit": 2}),
    (binance.KLINES_PATH, {"symbol": "BTCUSDT", "interval": "1w", "limit": 3}),
    (binance.KLINES_PATH, {"symbol": "BTCUSDT", "interval": "3d", "endTime": MIDNIGHT}),
    (binance.KLINES_PATH, {"symbol": "BTCUSDT", "interval": "1m", "endTime": BEFORE_WINDOW}),
    (binance.KLINES_PATH, {"symbol": "BTCUSDT", "interval": "5m", "startTime": AFTER_WINDOW}),
    (binance.OPEN_INTEREST_HIST_PATH, {"symbol": "BTCUSDT", "period": "5m", "limit": 9,
                                       "endTime": MIDDAY}),
    (binance.OPEN_INTEREST_HIST_PATH, {"symbol": "ETHUSDT", "period": "1h", "startTime": MIDDAY}),
    (binance.OPEN_INTEREST_HIST_PATH, {"symbol": "BTCUSDT", "period": "1d"}),
    (binance.FUNDING_RATE_PATH, {"symbol": "BTCUSDT", "limit": 2, "endTime": MIDNIGHT}),
    (binance.FUNDING_RATE_PATH, {"symbol": "BTCUSDT", "limit": 4, "startTime": MIDDAY}),
]  # fmt: skip
BYBIT = [
    (bybit.KLINE_PATH, {"symbol": "BTCUSDT", "interval": "1", "limit": 5, "end": MIDDAY}),
    (bybit.KLINE_PATH, {"symbol": "BTCUSDT", "interval": "240", "start": MIDNIGHT,
                        "end": MIDNIGHT + 86_400_000}),
    (bybit.KLINE_PATH, {"symbol": "ETHUSDT", "interval": "D", "limit": 2, "end": MIDNIGHT}),
    (bybit.KLINE_PATH, {"symbol": "BTCUSDT", "interval": "W"}),
    (bybit.KLINE_PATH, {"symbol": "BTCUSDT", "interval": "60", "end": BEFORE_WINDOW}),
    (bybit.FUNDING_HISTORY_PATH, {"symbol": "BTCUSDT", "limit": 2, "endTime": MIDDAY}),
    (bybit.FUNDING_HISTORY_PATH, {"symbol": "ETHUSDT", "startTime": MIDNIGHT,
                                  "endTime": AFTER_WINDOW}),
]  # fmt: skip
OKX = [
    (okx.CANDLES_PATH, {"instId": "BTC-USDT-SWAP", "bar": "1m", "limit": 5, "after": MIDDAY}),
    (okx.CANDLES_PATH, {"instId": "BTC-USDT-SWAP", "bar": "1D", "limit": 2, "after": MIDNIGHT}),
    (okx.CANDLES_PATH, {"instId": "ETH-USDT-SWAP", "bar": "6H", "before": MIDDAY}),
    (okx.CANDLES_PATH, {"instId": "BTC-USDT-SWAP", "bar": "1Dutc", "before": MIDNIGHT,
                        "after": AFTER_WINDOW}),
    (okx.OPEN_INTEREST_PATH, {"instId": "BTC-USDT-SWAP", "period": "5m", "limit": 4,
                              "end": MIDDAY}),
    (okx.OPEN_INTEREST_PATH, {"instId": "ETH-USDT-SWAP", "period": "1D", "begin": MIDNIGHT}),
    (okx.FUNDING_HISTORY_PATH, {"instId": "BTC-USDT-SWAP", "limit": 3, "after": MIDDAY}),
    (okx.FUNDING_HISTORY_PATH, {"instId": "ETH-USDT-SWAP", "before": BEFORE_WINDOW}),
]  # fmt: skip


@pytest.fixture(scope="module")
def truth_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("spans")
    simulate("calm", START, END, replay_root=root / "replay", truth_root=root / "truth",
             symbols=SYMBOLS, seed=11)  # fmt: skip
    return root


@pytest.fixture
def whole_window(monkeypatch):
    """Makes every endpoint read the whole window again."""

    def widen():
        for module in (exchange, bybit_api, okx_api):
            monkeypatch.setattr(module, "page_span", lambda *args, **kwargs: EVERYTHING)

    return widen


def answers(api, base: str, requests: list[tuple[str, dict]]) -> list[tuple[int, bytes]]:
    return [
        (response.status, response.body)
        for response in (api.get(base + path, params) for path, params in requests)
    ]


def bybit_pages(api) -> list[tuple[int, bytes]]:
    """Open interest, newest first, three pages deep by the cursor."""
    url = bybit.REST_BASE + bybit.OPEN_INTEREST_PATH
    params = {"category": "linear", "symbol": "BTCUSDT", "intervalTime": "15min", "limit": 40,
              "endTime": MIDDAY}  # fmt: skip
    pages = []
    for _ in range(3):
        response = api.get(url, params)
        pages.append((response.status, response.body))
        params = {**params, "cursor": response.json()["result"]["nextPageCursor"]}
    return pages


def every_answer(root) -> list[tuple[int, bytes]]:
    api = simulated_exchange(root / "truth", root / "replay")
    linear = [(path, {"category": "linear", **params}) for path, params in BYBIT]
    swaps = [(path, {"instType": "SWAP", **params}) for path, params in OKX]
    okx_recent = SimulatedOkxApi.from_truth(root / "truth", open_interest_points=30)
    return [
        *answers(api, binance.REST_BASE, BINANCE),
        *answers(api, bybit.REST_BASE, linear),
        *bybit_pages(api),
        *answers(api, okx.REST_BASE, swaps),
        *answers(okx_recent, okx.REST_BASE, swaps[4:6]),
    ]


def test_bounded_reads_answer_as_whole_window_reads(truth_root, whole_window):
    bounded = every_answer(truth_root)
    whole_window()
    assert every_answer(truth_root) == bounded
    assert {status for status, _ in bounded} == {200}
    empty = [
        i for i, (_, body) in enumerate(bounded) if re.search(rb'^\[\]|"(list|data)":\[\]', body)
    ]
    # before and after the window, and the 5-minute points before MIDDAY OKX no longer keeps
    assert empty == [6, 7, 17, 31]


@pytest.mark.parametrize(
    "interval_ms, offset_ms",
    [(86_400_000, okx_api.HONG_KONG_OFFSET_MS), (7 * 86_400_000, None), (4 * 3_600_000, 0)],
)
def test_the_candles_of_a_span_are_those_of_the_window_opening_in_it(
    truth_root, interval_ms, offset_ms
):
    """Read from the days of the span only, each candle is still aggregated from all of its
    minutes (OKX's days open at 16:00 UTC, weeks on Monday): the ones read in part are left out."""
    store = TruthStore(truth_root / "truth", okx.VENUE)
    span = (MIDDAY, MIDNIGHT + 3 * 3_600_000)
    every = store.candles("BTCUSDT", interval_ms, offset_ms)
    first, last = candle_start(np.array(span), interval_ms, offset_ms)
    expected = every[(every[:, 0] >= first) & (every[:, 0] <= last)]
    got = store.candles("BTCUSDT", interval_ms, offset_ms, span=span)
    assert len(got) >= 1 and np.array_equal(got, expected)


def test_stores_share_the_day_files_they_read_until_one_is_written_again(truth_root, monkeypatch):
    """Landing asks a fresh exchange per slice: its stores read each day file once between them."""
    reads = []
    read_table = pq.read_table
    monkeypatch.setattr(
        pq, "read_table", lambda path, **kw: reads.append(path) or read_table(path, **kw)
    )
    truth._venue_day.cache_clear()

    def candles():
        store = TruthStore(truth_root / "truth", okx.VENUE)
        return store.candles("BTCUSDT", 3_600_000, 0, span=(MIDDAY, MIDDAY))

    first = candles()
    assert np.array_equal(candles(), first) and len(reads) == 1
    path = reads[0]
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1))
    assert np.array_equal(candles(), first) and len(reads) == 2
