"""Faults in a refresh: dbt failing mid-build, a failing mart gate, and readers querying the
published warehouse while a refresh swaps it.

One real refresh publishes the clean day (2026-02-04, every Binance dataset); the faults then
hit refreshes of the same day, and a last real refresh, with readers querying throughout, must
publish exactly what the clean one published.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
from datetime import datetime

import duckdb
import pyarrow as pa
import pytest
from conftest import DAY, copy_exchange
from fault_harness import FACTS, Outcome, fact_rows, raw_rows, read_until_stopped

from include.cryptodw import refresh
from include.cryptodw.assets import MART_MODELS
from include.cryptodw.dbt_runner import DbtBuildError
from include.cryptodw.lake.writer import land_records
from include.cryptodw.pipeline import land_window
from include.cryptodw.quality.runner import DataQualityError

pytestmark = pytest.mark.slow

KIND = "warehouse"
DATASETS = ("klines", "open_interest", "funding", "liquidations")
READERS = 2


def _fingerprint(path) -> dict[str, str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            name: hashlib.sha256(
                repr(con.execute(f"select * from {name} order by all").fetchall()).encode()
            ).hexdigest()
            for name in [*(f"marts.{m}" for m in MART_MODELS), *(f"core.{f}" for f in FACTS)]
        }


def _raw_rows(settings) -> int:
    return sum(len(raw_rows(settings, dataset)) for dataset in DATASETS)


class Published:
    """The clean day refreshed and published once: the snapshot the faults must not touch."""

    def __init__(self, settings) -> None:
        self.settings = settings
        land_window(settings, DAY)
        refresh.run_refresh(settings, DAY)
        self.bytes = settings.published_path.read_bytes()
        self.fingerprint = _fingerprint(settings.published_path)
        self.rows_in = _raw_rows(settings)
        self.rows_out = fact_rows(settings.published_path)

    def unchanged(self) -> bool:
        return self.settings.published_path.read_bytes() == self.bytes


@pytest.fixture(scope="module")
def published(exchange, tmp_path_factory) -> Published:
    return Published(copy_exchange(exchange, tmp_path_factory.mktemp("warehouse") / "data"))


def _land_a_row_dbt_rejects(settings) -> list:
    """A liquidation with a negative quantity written straight to the lake (it got past
    landing), in its own part file; the paths it wrote."""
    moment = datetime.combine(DAY.start, datetime.min.time()).replace(hour=12)
    row = {
        "symbol": "BTCUSDT", "order_side": "SELL", "order_type": "LIMIT", "time_in_force": "IOC",
        "order_status": "FILLED", "original_qty": 1.0, "last_filled_qty": 1.0,
        "filled_qty": -1.0, "order_price": 70000.0, "avg_price": 70100.0, "trade_time": moment,
        "event_time": moment, "received_at": moment, "_source": "reliability/injected",
    }  # fmt: skip
    landed = land_records(
        pa.Table.from_pylist([row]),
        raw_dir=settings.raw_dir,
        manifest_dir=settings.manifest_dir,
        venue="binance",
        dataset="liquidations",
        part="injected",
        window_start=DAY.start,
        window_end=DAY.end,
    )
    manifests = settings.manifest_dir.rglob("injected.json")
    return [*(f.path for f in landed), *manifests]


def test_dbt_failing_mid_build_keeps_the_published_snapshot(published, ledger):
    settings = published.settings
    injected = _land_a_row_dbt_rejects(settings)
    try:
        with pytest.raises(DbtBuildError, match="stg_binance__liquidations"):
            refresh.run_refresh(settings, DAY)
        rows_in = _raw_rows(settings)
    finally:
        for path in injected:
            path.unlink()
        refresh.build_staging(settings, DAY)  # staging is tables: restage without the row
    assert published.unchanged()
    ledger.record(
        Outcome(KIND, "raw row failing a dbt test (negative liquidated quantity)",
                "DbtBuildError in the staging build; marts not built, published snapshot "
                "unchanged", rows_in, fact_rows(settings.published_path), 0)
    )  # fmt: skip


def test_a_failing_mart_gate_keeps_the_published_snapshot(published, ledger, monkeypatch):
    """The builds are replaced by a mart coming out wrong in the working warehouse; the real
    staging and mart gates then run on it."""
    settings = published.settings

    def wrong_mart(settings_, window) -> int:
        with duckdb.connect(str(settings_.warehouse_path)) as con:
            con.execute("update marts.liquidations_daily set largest_liquidation_usd = -1")
        return 1

    monkeypatch.setattr(refresh, "build_staging", lambda settings_, window: 0)
    monkeypatch.setattr(refresh, "build_marts", wrong_mart)
    with pytest.raises(DataQualityError, match="liquidations_daily"):
        refresh.run_refresh(settings, DAY)
    assert published.unchanged()
    ledger.record(
        Outcome(KIND, "Great Expectations gate failing at the marts",
                "DataQualityError; not published, snapshot unchanged", published.rows_in,
                fact_rows(settings.published_path), 0)
    )  # fmt: skip


def test_a_rerun_recovers_the_clean_snapshot_while_readers_query(published, ledger):
    settings = published.settings
    context = mp.get_context("spawn")
    stop, results = context.Event(), context.Queue()
    readers = []
    for _ in range(READERS):
        ready = context.Event()
        args = (str(settings.published_path), published.rows_out, ready, stop, results)
        reader = context.Process(target=read_until_stopped, args=args)
        reader.start()
        readers.append((reader, ready))
    try:
        assert all(ready.wait(timeout=120) for _, ready in readers), "readers did not start"
        refresh.run_refresh(settings, DAY)
    finally:
        stop.set()
        outcomes = [results.get(timeout=120) for _ in readers]
        for reader, _ in readers:
            reader.join(timeout=30)

    assert [errors for errors, _ in outcomes] == [[]] * READERS
    assert all(reads > 0 for _, reads in outcomes)
    assert not published.unchanged()  # a new snapshot file was swapped in...
    assert _fingerprint(settings.published_path) == published.fingerprint  # ...with clean data
    ledger.record(
        Outcome(KIND, "readers querying during the re-run's refresh",
                "every read saw a whole clean snapshot; the re-run publishes the clean result",
                published.rows_in,
                fact_rows(settings.published_path), 0)
    )  # fmt: skip
