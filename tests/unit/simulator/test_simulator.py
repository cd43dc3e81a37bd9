"""The offline Binance: what the simulator publishes is read back by the real connector.

One short simulation (4 days, 2 symbols, calm preset, every venue) is written once per module;
the tests read Binance's share back through the archive route (`ReplayTransport`), the REST
route (`SimulatedBinanceApi`) and the recorded websocket stream, and compare with the truth.
Bybit and OKX are read back in `test_venues.py`.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from include.cryptodw.simulator import SimulatedBinanceApi, simulate, simulated_exchange
from include.cryptodw.simulator.market import MarketSimulation, PositionBook
from include.cryptodw.simulator.presets import Mechanics, Phase, Preset, resolve_specs
from include.cryptodw.sources import binance
from include.cryptodw.sources.common import ExchangeAPIError, day_start_ms
from include.cryptodw.transport import ReplayTransport

START, END = date(2026, 1, 30), date(2026, 2, 3)
SYMBOLS = ("ETHUSDT", "BTCUSDT")
DAYS = (END - START).days
KLINES_URL = binance.REST_BASE + binance.KLINES_PATH


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("sim")
    report = simulate(
        "calm",
        START,
        END,
        replay_root=root / "replay",
        truth_root=root / "truth",
        symbols=SYMBOLS,
        seed=11,
    )
    return {"root": root, "replay": root / "replay", "truth": root / "truth", "report": report}


def truth(sim: dict, name: str, venue: str | None = "binance"):
    """A truth table over the window: one venue's rows, or every venue's (`venue=None`)."""
    table = pq.read_table(sorted((sim["truth"] / name).glob("*.parquet"))).combine_chunks()
    return table if venue is None else table.filter(pc.equal(table.column("venue"), venue))


def _strip_source(table):
    return table.drop_columns(["_source"]).to_pylist()


def test_report_summarises_the_run(sim):
    report = sim["report"]
    liquidations = truth(sim, "liquidations", venue=None)
    assert report.days == DAYS
    assert report.symbols == ("BTCUSDT", "ETHUSDT")  # BTC leads the simulation
    assert report.venues == ("binance", "bybit", "okx")
    assert set(liquidations.column("venue").to_pylist()) == set(report.venues)
    assert report.liquidations == liquidations.num_rows > 0
    assert report.pushed == pc.sum(liquidations.column("pushed").cast("int64")).as_py()
    assert 0 < report.pushed < report.liquidations  # Binance's stream samples
    manifest = json.loads((sim["truth"] / "simulation.json").read_text())
    assert (manifest["preset"], manifest["start"], manifest["end"]) == (
        "calm",
        START.isoformat(),
        END.isoformat(),
    )


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_archive_klines_parse_cleanly_and_match_truth(sim, symbol):
    replay = ReplayTransport(sim["replay"])
    daily = binance.fetch_klines(replay, symbol, "1d", START, END, "archive")
    hourly = binance.fetch_klines(replay, symbol, "1h", START, END, "archive")
    assert not daily.rejects and not hourly.rejects
    assert daily.table.num_rows == DAYS and hourly.table.num_rows == 24 * DAYS
    closes = truth(sim, "daily").filter(pc.equal(truth(sim, "daily").column("symbol"), symbol))
    assert daily.table.column("close_price").to_pylist() == pytest.approx(
        closes.column("close").to_pylist(), rel=1e-12
    )
    # A day's candle is exactly its hours: same volume, trades, extremes.
    assert (
        pc.sum(hourly.table.column("trade_count")).as_py()
        == pc.sum(daily.table.column("trade_count")).as_py()
    )
    assert (
        pc.max(hourly.table.column("high_price")).as_py()
        == pc.max(daily.table.column("high_price")).as_py()
    )


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_archive_open_interest_matches_truth(sim, symbol):
    result = binance.fetch_open_interest(
        ReplayTransport(sim["replay"]), symbol, START, END, "archive"
    )
    assert not result.rejects
    expected = truth(sim, "open_interest")
    expected = expected.filter(pc.equal(expected.column("symbol"), symbol))
    assert result.table.num_rows == 288 * DAYS == expected.num_rows
    got = result.table.sort_by("snapshot_at")
    assert (
        got.column("snapshot_at").cast("int64").to_pylist()
        == expected.column("snapshot_ms").to_pylist()
    )
    assert got.column("open_interest_base").to_pylist() == pytest.approx(
        expected.column("open_interest_base").to_pylist(), rel=1e-12
    )
    assert got.column("open_interest_quote").to_pylist() == pytest.approx(
        expected.column("open_interest_usd").to_pylist(), rel=1e-12
    )


def test_recorded_stream_holds_exactly_the_pushed_liquidations(sim):
    result = binance.read_liquidations(sim["replay"], START, END)
    assert not result.rejects
    liquidations = truth(sim, "liquidations")
    pushed = liquidations.filter(liquidations.column("pushed"))
    assert result.table.num_rows == pushed.num_rows
    rows = result.table
    notional = pc.sum(pc.multiply(rows.column("filled_qty"), rows.column("avg_price"))).as_py()
    assert notional == pytest.approx(pc.sum(pushed.column("notional_usd")).as_py(), rel=1e-9)
    sells = pc.sum(pc.equal(rows.column("order_side"), "SELL").cast("int64")).as_py()
    assert sells == pc.sum(pc.equal(pushed.column("position_side"), "LONG").cast("int64")).as_py()


def test_stream_pushes_at_most_one_order_per_symbol_and_second(sim):
    liquidations = truth(sim, "liquidations")
    pushed = liquidations.filter(liquidations.column("pushed"))
    keys = list(
        zip(
            pushed.column("symbol").to_pylist(),
            (pushed.column("trade_time_ms").to_numpy() // 1000).tolist(),
            strict=True,
        )
    )
    assert len(keys) == len(set(keys))
    # ... and every busy second still pushes its latest order.
    every = set(
        zip(
            liquidations.column("symbol").to_pylist(),
            (liquidations.column("trade_time_ms").to_numpy() // 1000).tolist(),
            strict=True,
        )
    )
    assert set(keys) == every


def test_stream_segments_are_filed_by_receive_day(sim):
    for segment in (sim["replay"] / "ws" / "binance" / "forceOrder").glob("*/*.jsonl.gz"):
        day = date.fromisoformat(segment.parent.name)
        for message in _segment_messages(segment):
            assert day_start_ms(day) <= message["recv_ts"] < day_start_ms(day) + 86_400_000


def _segment_messages(path: Path) -> list[dict]:
    import gzip

    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]


@pytest.mark.parametrize(
    ("dataset", "interval"), [("klines", "1h"), ("klines", "1d"), ("open_interest", None)]
)
def test_rest_route_returns_the_archive_rows(sim, dataset, interval):
    api = simulated_exchange(sim["truth"], sim["replay"])
    replay = ReplayTransport(sim["replay"])
    for symbol in SYMBOLS:
        if dataset == "klines":
            rest = binance.fetch_klines(api, symbol, interval, START, END, "rest")
            archive = binance.fetch_klines(replay, symbol, interval, START, END, "archive")
            key = "open_time"
        else:
            rest = binance.fetch_open_interest(api, symbol, START, END, "rest")
            archive = binance.fetch_open_interest(replay, symbol, START, END, "archive")
            key = "snapshot_at"
        assert not rest.rejects
        assert _strip_source(rest.table.sort_by(key)) == _strip_source(archive.table.sort_by(key))


def test_rest_funding_matches_truth(sim):
    api = simulated_exchange(sim["truth"], sim["replay"])
    result = binance.fetch_funding(api, "BTCUSDT", START, END, "rest")
    expected = truth(sim, "funding")
    expected = expected.filter(pc.equal(expected.column("symbol"), "BTCUSDT"))
    assert not result.rejects
    assert result.table.num_rows == 3 * DAYS == expected.num_rows
    assert result.table.column("funding_rate").to_pylist() == pytest.approx(
        (expected.column("rate_e8").to_numpy() / 1e8).tolist()
    )


def test_monthly_funding_file_only_for_months_inside_the_window(tmp_path):
    replay, truth_root = tmp_path / "replay", tmp_path / "truth"
    simulate(
        "calm",
        date(2026, 2, 1),
        date(2026, 3, 2),
        replay_root=replay,
        truth_root=truth_root,
        symbols=("BNBUSDT",),
        venues=("binance",),
    )
    api = simulated_exchange(truth_root, replay)
    month = (date(2026, 2, 1), date(2026, 3, 1))
    archive = binance.fetch_funding(ReplayTransport(replay), "BNBUSDT", *month, "archive")
    rest = binance.fetch_funding(api, "BNBUSDT", *month, "rest")
    assert not archive.rejects and archive.table.num_rows == 3 * 28
    assert (
        archive.table.column("funding_time").to_pylist()
        == rest.table.column("funding_time").to_pylist()
    )
    assert (
        archive.table.column("funding_rate").to_pylist()
        == rest.table.column("funding_rate").to_pylist()
    )
    assert set(archive.table.column("funding_interval_hours").to_pylist()) == {8}
    funding_dir = replay / "data.binance.vision/data/futures/um/monthly/fundingRate/BNBUSDT"
    assert sorted(p.name for p in funding_dir.iterdir()) == ["BNBUSDT-fundingRate-2026-02.zip"]


def test_rest_api_follows_binance_semantics(sim):
    api = simulated_exchange(sim["truth"], sim["replay"])
    start = day_start_ms(START)
    hour = 3_600_000
    params = {
        "symbol": "BTCUSDT",
        "interval": "1h",
        "startTime": start,
        "endTime": start + 3 * hour,
    }
    page = api.get(KLINES_URL, params)
    assert page.status == 200
    assert [row[0] for row in page.json()] == [start + i * hour for i in range(4)]  # inclusive
    assert page.headers["x-mbx-used-weight-1m"].isdigit()
    limited = api.get(KLINES_URL, {**params, "endTime": start + 10 * hour, "limit": 2}).json()
    assert [row[0] for row in limited] == [start, start + hour]  # first `limit` from startTime
    tail = api.get(
        KLINES_URL,
        {"symbol": "BTCUSDT", "interval": "1h", "limit": 2, "endTime": start + 10 * hour},
    ).json()
    assert [row[0] for row in tail] == [start + 9 * hour, start + 10 * hour]
    assert api.get(KLINES_URL, {**params, "limit": 1501}).json()["code"] == -1130
    assert api.get(KLINES_URL, {**params, "interval": "7m"}).json()["code"] == -1120


def test_open_interest_history_can_be_limited_to_recent_days(sim):
    api = SimulatedBinanceApi.from_truth(sim["truth"], open_interest_history_days=3)
    url = binance.REST_BASE + binance.OPEN_INTEREST_HIST_PATH
    params = {"symbol": "BTCUSDT", "period": "1h", "limit": 500}
    old = api.get(url, {**params, "startTime": day_start_ms(START)})
    assert old.status == 400 and old.json()["code"] == -1130
    recent = api.get(url, {**params, "startTime": day_start_ms(END) - 86_400_000}).json()
    assert len(recent) == 24  # hourly snapshots of the window's last day
    assert {item["timestamp"] % 3_600_000 for item in recent} == {0}


def test_unknown_symbol_is_refused_like_binance(sim):
    api = simulated_exchange(sim["truth"], sim["replay"])
    response = api.get(KLINES_URL, {"symbol": "NOPEUSDT", "interval": "1h"})
    assert response.status == 400
    assert response.json() == {"code": -1121, "msg": "Invalid symbol."}
    with pytest.raises(ExchangeAPIError) as raised:
        binance.fetch_open_interest(api, "NOPEUSDT", START, END, "rest")
    assert raised.value.code == -1121


def test_reruns_write_identical_bytes(sim, tmp_path):
    simulate(
        "calm",
        START,
        END,
        replay_root=tmp_path / "replay",
        truth_root=tmp_path / "truth",
        symbols=SYMBOLS,
        seed=11,
    )
    first = _tree(sim["root"])
    assert first == _tree(tmp_path)
    assert len(first) == sim["report"].files_written


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ------------------------------------------------------------------------------- mechanics


def test_liquidations_reduce_open_interest():
    spec = resolve_specs(("BTCUSDT",))[0]
    book = PositionBook(spec, Mechanics(), 100_000.0)
    book.passive = 1_000.0
    book.open(100_000.0, long_qty=500.0, short_qty=300.0)
    before = book.open_interest
    prices, qty = book.liquidate_longs(90_000.0)
    assert qty.sum() > 0 and (prices >= 90_000.0).all()
    assert before - book.open_interest == pytest.approx(qty.sum(), rel=1e-3)
    assert book.short_total == pytest.approx(300.0) and book.passive == 1_000.0


def _last_day(preset: Preset, mechanics: Mechanics | None = None):
    if mechanics is not None:
        preset = Preset(preset.name, preset.phases, mechanics)
    specs = resolve_specs(("BTCUSDT",))
    days = list(MarketSimulation(preset, date(2026, 1, 1), date(2026, 1, 4), specs, 3).days())
    day, previous = days[-1].venues["binance"], days[-2].venues["binance"]
    liq = day.liquidations
    long_usd = float(liq.notional_usd(specs)[liq.is_long].sum())
    previous_close = int(previous.bars["BTCUSDT"].close[-1])
    return long_usd, int(day.bars["BTCUSDT"].close[-1]) / previous_close - 1


QUIET = Phase("quiet", None, drift=0.0, vol=0.01, open_rate=0.1, close_rate=0.05, long_share=0.6)
DROP = Phase("drop", 1, drift=-0.06, vol=0.01, open_rate=0.1, close_rate=0.05, long_share=0.6)


def test_a_forced_price_drop_liquidates_more_longs():
    quiet_usd, quiet_return = _last_day(Preset("quiet", (QUIET,)))
    drop_usd, drop_return = _last_day(Preset("drop", (QUIET, DROP)))
    assert drop_return < quiet_return - 0.03
    assert drop_usd > 5 * max(quiet_usd, 1e6)


def test_forced_selling_deepens_the_drop():
    preset = Preset("drop", (QUIET, DROP))
    cascade_usd, cascade_return = _last_day(preset)
    _, no_impact_return = _last_day(preset, Mechanics(impact=0.0))
    assert cascade_usd > 0
    assert cascade_return < no_impact_return
