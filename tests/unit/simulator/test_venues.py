"""The offline Bybit and OKX: what the simulator publishes is read back by the real connectors.

One short simulation (3 days, 2 symbols, calm preset, every venue) per module. The REST pages
are fetched through `simulated_exchange`, retained as a live run retains them, and read again
through a `ReplayTransport` (the pipeline's offline path); the recorded websocket segments are
read with the connectors' `read_liquidations`. Everything is compared with the per-venue truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from include.cryptodw.simulator import simulate, simulated_exchange
from include.cryptodw.simulator.market import MarketSimulation
from include.cryptodw.simulator.presets import get_preset, resolve_specs
from include.cryptodw.sources import bybit, okx
from include.cryptodw.sources.common import ExchangeAPIError, ParseResult, day_start_ms
from include.cryptodw.transport import (
    Params,
    ReplayTransport,
    Response,
    Transport,
    TransportError,
    retain,
)

START, END = date(2026, 1, 30), date(2026, 2, 2)
SYMBOLS = ("BTCUSDT", "ETHUSDT")
DAYS = (END - START).days
INST = {"BTCUSDT": "BTC-USDT-SWAP", "ETHUSDT": "ETH-USDT-SWAP"}


@dataclass
class Retaining:
    """Answers from `api` and retains every page under `root` (as a live run does)."""

    api: Transport
    root: Path

    def get(self, url: str, params: Params | None = None) -> Response:
        response = self.api.get(url, params)
        retain(self.root, response)
        return response


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("venues")
    simulate("calm", START, END, replay_root=root / "replay", truth_root=root / "truth",
             symbols=SYMBOLS, seed=5)  # fmt: skip
    recorder = Retaining(simulated_exchange(root / "truth", root / "replay"), root / "replay")
    return {"replay": root / "replay", "truth": root / "truth", "recorder": recorder}


def truth(sim: dict, name: str, venue: str, symbol: str | None = None):
    table = pq.read_table(sorted((sim["truth"] / name).glob("*.parquet"))).combine_chunks()
    table = table.filter(pc.equal(table.column("venue"), venue))
    return table if symbol is None else table.filter(pc.equal(table.column("symbol"), symbol))


def recorded_then_replayed(sim: dict, fetch, *args):
    """The rows a live run lands, checked equal to what replaying its retained pages gives."""
    live = fetch(sim["recorder"], *args)
    replayed = fetch(ReplayTransport(sim["replay"]), *args)
    assert replayed.table.equals(live.table) and replayed.sources == live.sources
    assert live.rejects == [] and replayed.rejects == []
    return replayed.table


def _sum_product(table, *columns) -> float:
    product = table.column(columns[0])
    for column in columns[1:]:
        product = pc.multiply(product, table.column(column))
    return pc.sum(product).as_py()


# ------------------------------------------------------------------------------- Bybit


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_bybit_klines_open_interest_and_funding_match_truth(sim, symbol):
    daily = recorded_then_replayed(sim, bybit.fetch_klines, symbol, "1d", START, END)
    hourly = recorded_then_replayed(sim, bybit.fetch_klines, symbol, "1h", START, END)
    expected = truth(sim, "daily", "bybit", symbol)
    assert daily.column("close_price").to_pylist() == pytest.approx(
        expected.column("close").to_pylist(), rel=1e-12
    )
    assert hourly.num_rows == 24 * DAYS
    assert pc.sum(hourly.column("volume_base")).as_py() == pytest.approx(
        pc.sum(daily.column("volume_base")).as_py(), rel=1e-12
    )

    oi = recorded_then_replayed(sim, bybit.fetch_open_interest, symbol, START, END)
    snapshots = truth(sim, "open_interest", "bybit", symbol)
    assert oi.num_rows == 288 * DAYS == snapshots.num_rows
    # Bybit's openInterest counts both sides: twice the one-sided open interest.
    assert oi.column("open_interest_base").to_pylist() == pytest.approx(
        [2 * v for v in snapshots.column("open_interest_base").to_pylist()], rel=1e-12
    )
    assert oi.column("single_open_interest_base").null_count == oi.num_rows  # before 2026-06

    funding = recorded_then_replayed(sim, bybit.fetch_funding, symbol, START, END)
    settled = truth(sim, "funding", "bybit", symbol)
    assert funding.column("funding_rate").to_pylist() == pytest.approx(
        [r / 1e8 for r in settled.column("rate_e8").to_pylist()], abs=1e-12
    )
    assert {t % 3_600_000 for t in funding.column("funding_time").cast("int64").to_pylist()} == {0}


def test_bybit_websocket_holds_every_liquidation_with_the_position_side(sim):
    result = bybit.read_liquidations(sim["replay"], START, END)
    expected = truth(sim, "liquidations", "bybit")
    assert result.rejects == [] and result.table.num_rows == expected.num_rows > 0
    assert _sum_product(result.table, "executed_qty", "bankruptcy_price") == pytest.approx(
        pc.sum(expected.column("bankruptcy_notional_usd")).as_py(), rel=1e-9
    )
    buys = pc.sum(pc.equal(result.table.column("side"), "Buy").cast("int64")).as_py()
    longs = pc.sum(pc.equal(expected.column("position_side"), "LONG").cast("int64")).as_py()
    assert buys == longs  # Bybit's S is the liquidated position: Buy = a long


def test_bybit_instruments_list_the_simulated_contracts(sim):
    instruments = recorded_then_replayed(sim, bybit.fetch_instruments)
    rows = {row["symbol"]: row for row in instruments.to_pylist()}
    assert rows.keys() == set(SYMBOLS)
    assert (rows["BTCUSDT"]["qty_step"], rows["BTCUSDT"]["tick_size"]) == (0.001, 0.1)
    assert rows["ETHUSDT"]["funding_interval_minutes"] == 480


def test_bybit_refuses_like_bybit(sim):
    api = simulated_exchange(sim["truth"], sim["replay"])
    with pytest.raises(ExchangeAPIError) as raised:
        bybit.fetch_klines(api, "NOPEUSDT", "1h", START, END)
    assert raised.value.code == 10001
    only_start = api.get(bybit.REST_BASE + bybit.FUNDING_HISTORY_PATH,
                         {"category": "linear", "symbol": "BTCUSDT", "startTime": 1})  # fmt: skip
    assert only_start.status == 200 and only_start.json()["retCode"] == 10001


def test_bybit_open_interest_pages_follow_the_cursor(sim):
    api = simulated_exchange(sim["truth"], sim["replay"])
    url = bybit.REST_BASE + bybit.OPEN_INTEREST_PATH
    params = {"category": "linear", "symbol": "BTCUSDT", "intervalTime": "1h", "limit": 50}
    first = api.get(url, params).json()["result"]
    second = api.get(url, {**params, "cursor": first["nextPageCursor"]}).json()["result"]
    times = [int(i["timestamp"]) for i in first["list"] + second["list"]]
    assert times == sorted(times, reverse=True) and len(set(times)) == 24 * DAYS
    assert second["nextPageCursor"] == ""


# --------------------------------------------------------------------------------- OKX


def _ct_val(sim: dict) -> dict[str, float]:
    instruments = recorded_then_replayed(sim, okx.fetch_instruments)
    return {row["inst_id"]: row["ct_val"] for row in instruments.to_pylist()}


def test_okx_instruments_carry_the_contract_values(sim):
    assert _ct_val(sim) == {"BTC-USDT-SWAP": 0.01, "ETH-USDT-SWAP": 0.1}


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_okx_candles_open_interest_and_funding_match_truth(sim, symbol):
    inst, ct_val = INST[symbol], _ct_val(sim)[INST[symbol]]
    daily = recorded_then_replayed(sim, okx.fetch_klines, inst, "1d", START, END)
    expected = truth(sim, "daily", "okx", symbol)
    assert daily.column("close_price").to_pylist() == pytest.approx(
        expected.column("close").to_pylist(), rel=1e-12
    )
    for row in daily.to_pylist():
        assert row["volume_contracts"] * ct_val == pytest.approx(row["volume_base"], rel=1e-12)
    hourly = recorded_then_replayed(sim, okx.fetch_klines, inst, "1h", START, END)
    assert hourly.num_rows == 24 * DAYS

    oi = recorded_then_replayed(sim, okx.fetch_open_interest, inst, START, END)
    snapshots = truth(sim, "open_interest", "okx", symbol)
    assert oi.num_rows == 288 * DAYS == snapshots.num_rows
    coins = [c * ct_val for c in oi.column("open_interest_contracts").to_pylist()]
    assert coins == pytest.approx(snapshots.column("open_interest_base").to_pylist(), rel=1e-12)
    assert oi.column("open_interest_usd").to_pylist() == pytest.approx(
        snapshots.column("open_interest_usd").to_pylist(), rel=1e-12
    )

    funding = recorded_then_replayed(sim, okx.fetch_funding, inst, START, END)
    settled = truth(sim, "funding", "okx", symbol)
    assert funding.column("realized_rate").to_pylist() == pytest.approx(
        [r / 1e8 for r in settled.column("rate_e8").to_pylist()], abs=1e-12
    )


def test_okx_websocket_holds_every_liquidation_in_contracts(sim):
    ct_val = _ct_val(sim)
    result = okx.read_liquidations(sim["replay"], START, END)
    expected = truth(sim, "liquidations", "okx")
    assert result.rejects == [] and result.table.num_rows == expected.num_rows > 0
    usd = sum(
        row["qty_contracts"] * ct_val[row["inst_id"]] * row["bankruptcy_price"]
        for row in result.table.to_pylist()
    )
    expected_usd = pc.sum(expected.column("bankruptcy_notional_usd")).as_py()
    assert usd == pytest.approx(expected_usd, rel=1e-9)
    rows = result.table.to_pylist()
    net = [row for row in rows if row["pos_side"] == "net"]
    assert 0 < len(net) < len(rows)  # one-way accounts say only the order side
    longs = sum(row["side"] == "sell" for row in rows)
    assert longs == pc.sum(pc.equal(expected.column("position_side"), "LONG").cast("int64")).as_py()


def test_okx_rest_back_stop_covers_the_last_day_and_merges_with_the_websocket(sim):
    last_day = date.fromordinal(END.toordinal() - 1)
    ws = okx.read_liquidations(sim["replay"], last_day, END)
    rest = [recorded_then_replayed(sim, okx.fetch_liquidation_orders, f, last_day, END)
            for f in ("BTC-USDT", "ETH-USDT")]  # fmt: skip
    expected = truth(sim, "liquidations", "okx")
    # OKX remembers a day back from each request: the first seconds of the day are gone by the
    # time the back-stop's last page (the oldest) is asked for.
    api = sim["recorder"].api.apis[urlsplit(okx.REST_BASE).netloc]
    remembered = max(day_start_ms(last_day), api.now_ms - api.liquidation_history_ms)
    in_memory = pc.greater_equal(expected.column("trade_time_ms"), remembered)
    assert sum(t.num_rows for t in rest) == pc.sum(in_memory.cast("int64")).as_py() > 0
    merged = okx.merge_liquidations(ws, *(ParseResult(t) for t in rest))
    assert merged.table.num_rows == ws.table.num_rows
    # The day before is past OKX's one-day memory at recording time.
    older = okx.fetch_liquidation_orders(sim["recorder"], "BTC-USDT", START, last_day)
    assert older.table.num_rows == 0


def test_okx_refuses_like_okx(sim):
    api = simulated_exchange(sim["truth"], sim["replay"])
    with pytest.raises(ExchangeAPIError) as raised:
        okx.fetch_funding(api, "NOPE-USDT-SWAP", START, END)
    assert raised.value.code == "51001"
    bad_bar = api.get(okx.REST_BASE + okx.CANDLES_PATH, {"instId": INST["BTCUSDT"], "bar": "7m"})
    assert bad_bar.status == 400 and bad_bar.json()["code"] == "51000"


# ------------------------------------------------------------------------------ shares


def test_one_market_split_across_venues(sim):
    """Every venue sees the same prices (to a tiny basis) and holds its share of the market."""
    closes = {v: truth(sim, "daily", v, "BTCUSDT").column("close").to_pylist()
              for v in ("binance", "bybit", "okx")}  # fmt: skip
    for venue in ("bybit", "okx"):
        assert closes[venue] == pytest.approx(closes["binance"], rel=5e-4)
    oi = {v: pc.sum(truth(sim, "open_interest", v, "BTCUSDT").column("open_interest_base")).as_py()
          for v in ("binance", "bybit", "okx")}  # fmt: skip
    total = sum(oi.values())
    for venue, share in dict(resolve_specs(("BTCUSDT",))[0].venue_shares).items():
        assert oi[venue] == pytest.approx(share * total, rel=1e-6)


def test_binance_alone_holds_the_whole_market(sim):
    """Simulated for Binance alone, Binance's open interest is what every venue holds together."""
    specs = resolve_specs(SYMBOLS)
    alone = MarketSimulation(get_preset("calm"), START, END, specs, 5, ("binance",))
    whole = [int(d.venues["binance"].open_interest["BTCUSDT"].oi_units[0]) for d in alone.days()]
    every = pq.read_table(sorted((sim["truth"] / "open_interest").glob("*.parquet")))
    together: dict[int, int] = {}
    for row in every.filter(pc.equal(every.column("symbol"), "BTCUSDT")).to_pylist():
        if row["snapshot_ms"] % 86_400_000 == 0:
            together[row["snapshot_ms"]] = together.get(row["snapshot_ms"], 0) + row["oi_units"]
    assert [together[t] for t in sorted(together)] == pytest.approx(whole, abs=3)


def test_a_host_no_simulated_venue_serves_is_refused(sim):
    with pytest.raises(TransportError, match="no simulated venue"):
        simulated_exchange(sim["truth"], sim["replay"]).get("https://www.deribit.com/api/v2/x")
