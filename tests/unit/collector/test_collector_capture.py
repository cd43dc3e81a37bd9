"""The collector against local websocket servers that behave like the venues.

Each `FakeVenue` answers subscriptions and pings the way its venue does and pushes messages in
the venue's format (the simulator's `formats`, or real messages kept by tardis-node). What the
collector writes is read back with the REAL connectors' `read_liquidations`.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection, serve

from include.cryptodw.collector.coverage import read_gaps
from include.cryptodw.collector.feeds import binance_feed, bybit_feed, okx_feed
from include.cryptodw.collector.runner import CollectorConfig, run_collector, wall_ms
from include.cryptodw.settings import REPO_ROOT
from include.cryptodw.simulator import formats
from include.cryptodw.sources import binance, bybit, okx

BYBIT_SYMBOLS = [f"SYM{i}USDT" for i in range(11)] + ["BTCUSDT"]  # two subscribe requests


class FakeVenue:
    """A websocket server speaking one venue's liquidation protocol on 127.0.0.1."""

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self.live: list[ServerConnection] = []  # connections that get pushes
        self.received: list[str] = []  # every frame clients sent
        self.connections = 0
        self.answer_pings = True
        self.refuse_subscribes = 0  # refuse this many subscribe requests
        self.port = 0
        self._server = None

    async def start(self) -> FakeVenue:
        self._server = await serve(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def kill(self) -> None:
        """Stop listening and close every connection (as a server going down)."""
        self._server.close()
        await self._server.wait_closed()
        self.live.clear()

    @property
    def url(self) -> str:
        path = "/ws/!forceOrder@arr" if self.venue == "binance" else "/ws"
        return f"ws://127.0.0.1:{self.port}{path}"

    async def push(self, text: str) -> None:
        for connection in list(self.live):
            await connection.send(text)

    async def _handle(self, connection: ServerConnection) -> None:
        self.connections += 1
        if self.venue == "binance":
            self.live.append(connection)
        try:
            async for frame in connection:
                self.received.append(frame)
                reply = self._reply(frame, connection)
                if reply is not None:
                    await connection.send(reply)
        finally:
            if connection in self.live:
                self.live.remove(connection)

    def _reply(self, frame: str, connection: ServerConnection) -> str | None:
        if self.venue == "okx":
            return self._okx_reply(frame, connection)
        if self.venue == "bybit":
            return self._bybit_reply(json.loads(frame), connection)
        return None

    def _bybit_reply(self, request: dict, connection: ServerConnection) -> str | None:
        base = {"conn_id": "cfg1", "req_id": request.get("req_id", "")}
        if request["op"] == "ping":
            return (
                json.dumps({"success": True, "ret_msg": "pong", **base, "op": "ping"})
                if (self.answer_pings)
                else None
            )
        if self.refuse_subscribes > 0:
            self.refuse_subscribes -= 1
            msg = f"error:handler not found,topic:{request['args'][0]}"
            return json.dumps({"success": False, "ret_msg": msg, **base, "op": "subscribe"})
        if connection not in self.live:
            self.live.append(connection)
        return json.dumps({"success": True, "ret_msg": "", **base, "op": "subscribe"})

    def _okx_reply(self, frame: str, connection: ServerConnection) -> str | None:
        if frame == "ping":
            return "pong" if self.answer_pings else None
        request = json.loads(frame)
        self.live.append(connection)
        return json.dumps({"event": "subscribe", "arg": request["args"][0], "connId": "a4d3ae55"})


def force_order(trade_ms: int, qty: str = "0.010") -> str:
    return formats.force_order_message(
        "BTCUSDT", "SELL", qty, "60000.10", "60010.20", qty, trade_ms + 4, trade_ms
    )


def bybit_liquidation(trade_ms: int, qty: str = "0.5") -> str:
    event = formats.bybit_liquidation("BTCUSDT", "Buy", qty, "60000.1", trade_ms)
    return formats.bybit_liquidation_message("BTCUSDT", trade_ms + 120, [event])


def okx_liquidation(trade_ms: int, contracts: str = "3") -> str:
    detail = formats.okx_liquidation_detail("sell", "long", contracts, "60000.1", trade_ms)
    item = formats.okx_liquidation_item("BTC-USDT", [detail], "BTC-USDT-SWAP")
    return formats.okx_liquidation_message(item)


def fast_config(root: Path, **overrides) -> CollectorConfig:
    values = {
        "replay_root": root,
        "flush_interval_s": 0.1,
        "backoff_base_s": 0.05,
        "backoff_cap_s": 0.2,
        "subscribe_timeout_s": 2.0,
    }
    return CollectorConfig(**(values | overrides))


async def eventually(predicate, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def collect_while(feeds, config, scenario, clock=wall_ms):
    """Run the collector while `scenario()` drives the fake venues, then stop it."""
    stop = asyncio.Event()
    collector = asyncio.create_task(run_collector(feeds, config, stop, clock))
    try:
        await scenario()
    finally:
        stop.set()
    # bounds against a hang, not timings: closing segments fsyncs, which a disk busy with
    # other jobs' writes can hold up for seconds
    return await asyncio.wait_for(collector, 30)


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 60))


def today() -> date:
    return datetime.now(UTC).date()


def read_window(reader, root: Path, day: date):
    return reader(root, day, day + timedelta(days=1))


def segment_texts(root: Path, venue: str, stream: str) -> list[str]:
    texts = []
    for segment in sorted((root / "ws" / venue / stream).glob("*/*.jsonl.gz")):
        for line in gzip.decompress(segment.read_bytes()).decode().splitlines():
            texts.append(json.loads(line)["data"])
    return texts


# ------------------------------------------------------------------ each venue, end to end


def test_binance_messages_land_in_segments_the_connector_reads(tmp_path):
    async def main():
        venue = await FakeVenue("binance").start()
        now = wall_ms()

        async def scenario():
            await eventually(lambda: venue.live)
            await venue.push(json.dumps({"result": None, "id": 1}))  # a request's answer
            for i in range(5):
                await venue.push(force_order(now + i, qty=f"0.01{i}"))
            await asyncio.sleep(0.3)

        await collect_while([binance_feed(venue.url)], fast_config(tmp_path), scenario)
        await venue.kill()

    run(main())
    result = read_window(binance.read_liquidations, tmp_path, today())
    assert result.rejects == []
    assert sorted(result.table.column("filled_qty").to_pylist()) == [
        0.010,
        0.011,
        0.012,
        0.013,
        0.014,
    ]
    assert all(r is not None for r in result.table.column("received_at").to_pylist())
    assert all('"result"' not in text for text in segment_texts(tmp_path, "binance", "forceOrder"))


def test_bybit_subscribes_every_symbol_pings_and_writes_only_data(tmp_path):
    async def main():
        venue = await FakeVenue("bybit").start()
        feed = replace(bybit_feed(BYBIT_SYMBOLS, venue.url), ping_interval_s=0.1)
        now = wall_ms()

        async def scenario():
            await eventually(lambda: venue.live)
            for i in range(4):
                await venue.push(bybit_liquidation(now + i, qty=f"0.{i + 1}"))
            await eventually(lambda: venue.received.count('{"op": "ping"}') >= 2)
            await asyncio.sleep(0.2)

        await collect_while([feed], fast_config(tmp_path), scenario)
        await venue.kill()
        return venue

    venue = run(main())
    subscribes = [json.loads(f) for f in venue.received if '"subscribe"' in f]
    assert [topic for s in subscribes for topic in s["args"]] == [
        f"allLiquidation.{symbol}" for symbol in BYBIT_SYMBOLS
    ]
    result = read_window(bybit.read_liquidations, tmp_path, today())
    assert result.rejects == []
    assert sorted(result.table.column("executed_qty").to_pylist()) == [0.1, 0.2, 0.3, 0.4]
    texts = segment_texts(tmp_path, "bybit", "allLiquidation")
    assert len(texts) == 4 and all(t.startswith('{"topic":"allLiquidation.') for t in texts)
    assert read_gaps(tmp_path, "bybit")[0]["gap_end"] is not None  # subscribed after all acks


def test_okx_subscribes_to_swap_liquidations_and_skips_pongs(tmp_path):
    async def main():
        venue = await FakeVenue("okx").start()
        feed = replace(okx_feed(venue.url), ping_interval_s=0.1)
        now = wall_ms()

        async def scenario():
            await eventually(lambda: venue.live)
            for i in range(3):
                await venue.push(okx_liquidation(now + i, contracts=str(i + 1)))
            await eventually(lambda: venue.received.count("ping") >= 2)
            await asyncio.sleep(0.2)

        await collect_while([feed], fast_config(tmp_path), scenario)
        await venue.kill()
        return venue

    venue = run(main())
    assert json.loads(venue.received[0]) == {
        "op": "subscribe",
        "args": [{"channel": "liquidation-orders", "instType": "SWAP"}],
    }
    result = read_window(okx.read_liquidations, tmp_path, today())
    assert result.rejects == []
    assert sorted(result.table.column("qty_contracts").to_pylist()) == [1.0, 2.0, 3.0]
    assert "pong" not in segment_texts(tmp_path, "okx", "liquidation-orders")


def _tardis_force_order(message: dict) -> int | None:
    data = message.get("data")
    if isinstance(data, dict) and data.get("e") == "forceOrder" and data["o"]["s"] == "BTCUSDT":
        return data["o"]["T"]
    return None


def _tardis_all_liquidation(message: dict) -> int | None:
    if str(message.get("topic", "")).startswith("allLiquidation."):
        return message["data"][0]["T"]
    return None


@pytest.mark.parametrize(
    ("venue_name", "trade_time_of", "reader"),
    [
        ("binance", _tardis_force_order, binance.read_liquidations),
        ("bybit", _tardis_all_liquidation, bybit.read_liquidations),
    ],
)
def test_real_tardis_messages_are_read_back(tmp_path, realdata, venue_name, trade_time_of, reader):
    """Real pushes kept by tardis-node, received at their own time (the clock is shifted)."""
    kept = json.loads(
        (realdata / "api_fixtures/tardis_node_mappers_test_derivatives_messages.json").read_text()
    )
    pushes = [e["message"] for e in kept if isinstance(e["message"], dict)]
    message = next(m for m in pushes if trade_time_of(m) is not None)
    trade_ms = trade_time_of(message)
    offset = wall_ms() - (trade_ms + 80)

    async def main():
        venue = await FakeVenue(venue_name).start()
        symbol = message.get("topic", "x.BTCUSDT").partition(".")[2]
        feeds = {"binance": binance_feed(venue.url), "bybit": bybit_feed([symbol], venue.url)}

        async def scenario():
            await eventually(lambda: venue.live)
            await venue.push(json.dumps(message))
            await asyncio.sleep(0.2)

        clock = lambda: wall_ms() - offset  # noqa: E731
        await collect_while([feeds[venue_name]], fast_config(tmp_path), scenario, clock)
        await venue.kill()

    run(main())
    day = datetime.fromtimestamp(trade_ms / 1000, tz=UTC).date()
    result = read_window(reader, tmp_path, day)
    assert result.rejects == []
    assert [t.timestamp() * 1000 for t in result.table.column("trade_time").to_pylist()] == [
        trade_ms
    ]


def test_malformed_message_is_written_raw_and_quarantined_by_the_reader(tmp_path):
    broken = '{"e":"forceOrder","E":1722859200003,"o":{"s":"BTCUSDT"'

    async def main():
        venue = await FakeVenue("binance").start()
        now = wall_ms()

        async def scenario():
            await eventually(lambda: venue.live)
            await venue.push(force_order(now))
            await venue.push(broken)
            await asyncio.sleep(0.3)

        await collect_while([binance_feed(venue.url)], fast_config(tmp_path), scenario)
        await venue.kill()

    run(main())
    assert broken in segment_texts(tmp_path, "binance", "forceOrder")
    result = read_window(binance.read_liquidations, tmp_path, today())
    assert result.table.num_rows == 1
    assert [r["reason"][:14] for r in result.rejects] == ["malformed JSON"]


# ------------------------------------------------------------------ gaps and reconnects


def test_killed_server_leaves_a_recorded_gap_and_capture_resumes(tmp_path):
    async def main():
        venue = await FakeVenue("binance").start()
        now = wall_ms()

        async def scenario():
            await eventually(lambda: venue.live)
            for i in range(3):
                await venue.push(force_order(now + i))
            await asyncio.sleep(0.2)
            await venue.kill()
            await asyncio.sleep(0.5)  # down: connection attempts fail
            await venue.start()  # same port
            await eventually(lambda: venue.live)
            for i in range(3, 6):
                await venue.push(force_order(now + i))
            await asyncio.sleep(0.3)

        await collect_while([binance_feed(venue.url)], fast_config(tmp_path), scenario)
        await venue.kill()
        return venue

    venue = run(main())
    assert venue.connections == 2
    result = read_window(binance.read_liquidations, tmp_path, today())
    assert result.table.num_rows == 6 and result.rejects == []
    gaps = read_gaps(tmp_path, "binance")
    assert [g["reason"] for g in gaps] == ["process_start", "server_close", "shutdown"]
    down = gaps[1]
    assert "1001" in down["detail"]  # the server's close code (going away)
    assert down["gap_end"] - down["gap_start"] >= 500
    assert gaps[2]["gap_end"] is None  # still open: nobody is capturing now


def test_silent_connection_is_a_ping_timeout_and_is_replaced(tmp_path):
    async def main():
        venue = await FakeVenue("okx").start()
        venue.answer_pings = False
        # a pong timeout generous enough that a loaded CI machine answers in time once it pongs
        feed = replace(okx_feed(venue.url), ping_interval_s=0.1, pong_timeout_s=1.0)
        now = wall_ms()

        async def scenario():
            await eventually(lambda: venue.connections >= 2)
            venue.answer_pings = True
            await eventually(lambda: venue.live)
            await venue.push(okx_liquidation(now))
            await asyncio.sleep(0.3)

        await collect_while([feed], fast_config(tmp_path), scenario)
        await venue.kill()

    run(main())
    gaps = read_gaps(tmp_path, "okx")
    assert gaps[1]["reason"] == "ping_timeout" and gaps[1]["gap_end"] is not None
    assert read_window(okx.read_liquidations, tmp_path, today()).table.num_rows == 1


def test_refused_subscription_is_a_gap_until_accepted(tmp_path):
    async def main():
        venue = await FakeVenue("bybit").start()
        venue.refuse_subscribes = 1

        async def scenario():
            await eventually(lambda: venue.live)
            await asyncio.sleep(0.2)

        feed = bybit_feed(["BTCUSDT"], venue.url)
        await collect_while([feed], fast_config(tmp_path), scenario)
        await venue.kill()

    run(main())
    gaps = read_gaps(tmp_path, "bybit")
    # Refused before it was ever covered: the process-start gap just stays open longer.
    assert gaps[0]["reason"] == "process_start" and gaps[0]["gap_end"] is not None
    assert [g["reason"] for g in gaps] == ["process_start", "shutdown"]
    log_files = (tmp_path / "ws/bybit/_coverage").glob("*.jsonl")
    assert sum(1 for path in log_files for _ in path.open()) == 3  # opened, closed, shutdown


def test_connection_age_limit_reconnects_on_schedule(tmp_path):
    async def main():
        venue = await FakeVenue("binance").start()
        feed = replace(binance_feed(venue.url), max_connection_age_s=0.3)

        async def scenario():
            await eventually(lambda: venue.connections >= 2)
            await eventually(lambda: venue.live)
            await asyncio.sleep(0.05)

        await collect_while([feed], fast_config(tmp_path), scenario)
        await venue.kill()

    run(main())
    reasons = [g["reason"] for g in read_gaps(tmp_path, "binance")]
    assert reasons[:2] == ["process_start", "max_age"]


def test_three_venues_run_side_by_side(tmp_path):
    async def main():
        venues = {name: await FakeVenue(name).start() for name in ("binance", "bybit", "okx")}
        feeds = [
            binance_feed(venues["binance"].url),
            bybit_feed(["BTCUSDT"], venues["bybit"].url),
            okx_feed(venues["okx"].url),
        ]
        now = wall_ms()

        async def scenario():
            await eventually(lambda: all(v.live for v in venues.values()))
            await venues["binance"].push(force_order(now))
            await venues["bybit"].push(bybit_liquidation(now))
            await venues["okx"].push(okx_liquidation(now))
            await asyncio.sleep(0.3)

        await collect_while(feeds, fast_config(tmp_path), scenario)
        for venue in venues.values():
            await venue.kill()

    run(main())
    for reader in (binance.read_liquidations, bybit.read_liquidations, okx.read_liquidations):
        result = read_window(reader, tmp_path, today())
        assert (result.table.num_rows, result.rejects) == (1, [])


# ------------------------------------------------------------------ the process, signalled


def test_sigterm_flushes_and_records_the_shutdown(tmp_path):
    """The real entry point, stopped by SIGTERM before its first periodic flush."""

    async def main():
        venue = await FakeVenue("okx").start()
        env = os.environ | {"PYTHONPATH": str(REPO_ROOT)}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "include.cryptodw.collector",
            "--venues=okx",
            f"--url=okx={venue.url}",
            f"--replay-root={tmp_path}",
            "--flush-interval=3600",
            cwd=REPO_ROOT,
            env=env,
            stderr=asyncio.subprocess.PIPE,
        )
        await eventually(lambda: venue.live, timeout_s=15)
        now = wall_ms()
        for i in range(3):
            await venue.push(okx_liquidation(now + i, contracts=str(i + 1)))
        await asyncio.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 10)
        await venue.kill()
        return process.returncode, stderr.decode()

    returncode, stderr = run(main())
    assert returncode == 0, stderr
    result = read_window(okx.read_liquidations, tmp_path, today())
    assert result.table.num_rows == 3 and result.rejects == []
    assert read_gaps(tmp_path, "okx")[-1]["reason"] == "shutdown"
    assert "okx liquidation-orders: 3 messages" in stderr


def test_a_restart_closes_the_shutdown_gap_it_inherits(tmp_path):
    async def session(venue):
        async def scenario():
            await eventually(lambda: venue.live)

        await collect_while([binance_feed(venue.url)], fast_config(tmp_path), scenario)

    async def main():
        venue = await FakeVenue("binance").start()
        await session(venue)
        await asyncio.sleep(0.2)
        await session(venue)
        await venue.kill()

    run(main())
    gaps = read_gaps(tmp_path, "binance")
    assert [g["reason"] for g in gaps] == ["process_start", "shutdown", "shutdown"]
    first_shutdown, second_shutdown = gaps[1], gaps[2]
    assert first_shutdown["gap_end"] - first_shutdown["gap_start"] >= 200
    assert second_shutdown["gap_end"] is None
