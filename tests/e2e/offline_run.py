"""The offline run the end-to-end tests share, and plain readers of its outputs."""

from __future__ import annotations

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


def run_window_through_airflow(settings: Settings) -> None:
    for dag_id in dag_ids(settings):
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
