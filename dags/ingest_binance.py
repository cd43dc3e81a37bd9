"""Land Binance USD-M futures data into the raw lake as daily parquet partitions.

One run covers its data interval (one UTC day on the schedule), or the explicit
`window_start`/`window_end` params (a backfill, the demo). Each mapped task lands one
dataset × symbol slice: archive files for days already published to data.binance.vision,
REST for the most recent days, the recorded `forceOrder` stream for liquidations. Rows are
validated by the raw Great Expectations suite before anything is written; re-running a window
replaces it. Each landing task announces its window on the dataset's asset, which schedules
`transform_warehouse`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, Param, dag, task

from include.cryptodw.alerts import notify_failure
from include.cryptodw.assets import RAW_DATASETS

RAW = {d.dataset: Asset(name=d.name, uri=d.uri) for d in RAW_DATASETS if d.venue == "binance"}


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "data-eng",
        "on_failure_callback": notify_failure,
        "retries": 3,
        "retry_delay": pendulum.duration(seconds=30),
        "retry_exponential_backoff": True,
        "pool": "binance_api",
    },
    params={
        "window_start": Param(None, type=["null", "string"], format="date"),
        "window_end": Param(None, type=["null", "string"], format="date"),
    },
    tags=["layer:ingest", "source:binance"],
    doc_md=__doc__,
)
def ingest_binance():
    @task
    def plan_slices(
        dataset: str, params=None, data_interval_start=None, data_interval_end=None
    ) -> list[dict]:
        from include.cryptodw.pipeline import plan_slices as plan

        return plan(params, data_interval_start, data_interval_end)[dataset]

    @task(outlets=[RAW["klines"]])
    def land_klines(slice_: dict, outlet_events=None) -> dict:
        from include.cryptodw.pipeline import land_slice_task

        return land_slice_task("klines", slice_, outlet_events[RAW["klines"]])

    @task(outlets=[RAW["open_interest"]])
    def land_open_interest(slice_: dict, outlet_events=None) -> dict:
        from include.cryptodw.pipeline import land_slice_task

        return land_slice_task("open_interest", slice_, outlet_events[RAW["open_interest"]])

    @task(outlets=[RAW["funding"]])
    def land_funding(slice_: dict, outlet_events=None) -> dict:
        from include.cryptodw.pipeline import land_slice_task

        return land_slice_task("funding", slice_, outlet_events[RAW["funding"]])

    @task(outlets=[RAW["liquidations"]])
    def land_liquidations(slice_: dict, outlet_events=None) -> dict:
        from include.cryptodw.pipeline import land_slice_task

        return land_slice_task("liquidations", slice_, outlet_events[RAW["liquidations"]])

    land_klines.expand(slice_=plan_slices.override(task_id="plan_klines")("klines"))
    land_open_interest.expand(
        slice_=plan_slices.override(task_id="plan_open_interest")("open_interest")
    )
    land_funding.expand(slice_=plan_slices.override(task_id="plan_funding")("funding"))
    land_liquidations.expand(
        slice_=plan_slices.override(task_id="plan_liquidations")("liquidations")
    )


ingest_binance()
