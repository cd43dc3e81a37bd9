"""Land each venue's USD-M perpetual data into the raw lake as daily parquet partitions.

One DAG per venue (`ingest_binance`, ...), generated from the venue catalogue. A run covers
its data interval (one UTC day on the schedule) or the explicit `window_start`/`window_end`
params (a backfill, the demo). Each mapped task lands one dataset × symbol slice through the
venue's connector: Binance archive files for days already on data.binance.vision and REST
for the most recent days; REST pages for Bybit and OKX; the recorded websocket streams for
liquidations (plus OKX's REST back-stop). Rows are validated by the raw Great Expectations
suite before anything is written; re-running a window replaces it. Each landing task
announces its window on its dataset's asset; a venue whose datasets have all landed
schedules `transform_warehouse`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, Param, dag, task

from include.cryptodw.alerts import notify_failure
from include.cryptodw.assets import RAW_DATASETS, VENUES

RAW = {(d.venue, d.dataset): Asset(name=d.name, uri=d.uri) for d in RAW_DATASETS}


@task
def plan_slices(
    venue: str, dataset: str, params=None, data_interval_start=None, data_interval_end=None
) -> list[dict]:
    from include.cryptodw.pipeline import plan_slices as plan

    return plan(venue, params, data_interval_start, data_interval_end)[dataset]


@task
def land(venue: str, dataset: str, slice_: dict, outlet_events=None) -> dict:
    from include.cryptodw.pipeline import land_slice_task

    return land_slice_task(dataset, slice_, outlet_events[RAW[(venue, dataset)]])


def ingest_dag(venue: str):
    @dag(
        dag_id=f"ingest_{venue}",
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
            "pool": f"{venue}_api",
        },
        params={
            "window_start": Param(None, type=["null", "string"], format="date"),
            "window_end": Param(None, type=["null", "string"], format="date"),
        },
        tags=["layer:ingest", f"source:{venue}"],
        doc_md=__doc__,
    )
    def ingest():
        for (asset_venue, dataset), asset in RAW.items():
            if asset_venue != venue:
                continue
            slices = plan_slices.override(task_id=f"plan_{dataset}")(venue, dataset)
            land.override(task_id=f"land_{dataset}", outlets=[asset]).partial(
                venue=venue, dataset=dataset
            ).expand(slice_=slices)

    return ingest()


for _venue in VENUES:
    ingest_dag(_venue)
