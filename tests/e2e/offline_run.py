"""The offline run the end-to-end tests share, and plain readers of its outputs."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import duckdb
import pyarrow.dataset as ds

from include.cryptodw.airflow_local import init_airflow, run_dag
from include.cryptodw.offline import prepare_offline_exchange
from include.cryptodw.settings import Settings
from include.cryptodw.windows import Window

# 11 days crossing a month (Feb 1) and an ISO week (Mon Feb 2) boundary.
WINDOW = Window(date(2026, 1, 26), date(2026, 2, 6))
SYMBOLS = "BTCUSDT,ETHUSDT"


def dag_ids(settings: Settings) -> list[str]:
    return [*(f"ingest_{venue}" for venue in settings.venues), "transform_warehouse"]


def run_window_through_airflow(settings: Settings, dags: list[str] | None = None) -> None:
    for dag_id in dags or dag_ids(settings):
        run_dag(settings, dag_id, WINDOW.end.isoformat(), WINDOW.as_dict())


def build(settings: Settings) -> None:
    prepare_offline_exchange(settings, "crash", WINDOW)
    init_airflow(settings)
    run_window_through_airflow(settings)


def query_marts(settings: Settings, sql: str) -> list[tuple]:
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def read_raw(settings: Settings, dataset: str, venue: str = "binance") -> list[dict]:
    path = settings.raw_dir / venue / dataset
    return ds.dataset(path, format="parquet", partitioning="hive").to_table().to_pylist()


def long_liquidations_usd_by_day(settings: Settings, base: str) -> dict:
    """{day: USD of liquidated long positions of `base`} across venues, from the raw lake, by
    this test's own reading of each venue's semantics: Binance's order side SELL closes a long
    (filled qty x average price); Bybit's `S` = Buy is a long position (size x bankruptcy
    price); OKX's `posSide` long, or in net mode an order side sell (contracts x ctVal x
    bankruptcy price)."""
    by_day: dict = defaultdict(float)
    for row in read_raw(settings, "liquidations", "binance"):
        if row["symbol"] == f"{base}USDT" and row["order_side"] == "SELL":
            by_day[row["trade_time"].date()] += row["filled_qty"] * row["avg_price"]
    if "bybit" in settings.venues:
        for row in read_raw(settings, "liquidations", "bybit"):
            if row["symbol"] == f"{base}USDT" and row["side"] == "Buy":
                by_day[row["trade_time"].date()] += row["executed_qty"] * row["bankruptcy_price"]
    if "okx" in settings.venues:
        contract = {
            row["inst_id"]: row["ct_val"] * (row["ct_mult"] or 1.0)
            for row in read_raw(settings, "instruments", "okx")
        }
        for row in read_raw(settings, "liquidations", "okx"):
            inst_id = row["inst_id"] or f"{row['inst_family']}-SWAP"
            is_long = row["pos_side"] == "long" or (
                row["pos_side"] == "net" and row["side"] == "sell"
            )
            if inst_id == f"{base}-USDT-SWAP" and is_long:
                usd = row["qty_contracts"] * contract[inst_id] * row["bankruptcy_price"]
                by_day[row["trade_time"].date()] += usd
    return dict(by_day)
