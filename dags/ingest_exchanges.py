"""Land each venue's USD-M perpetual data into the raw lake as daily parquet partitions.

Two DAGs per venue, generated from the venue catalogue, on the schedules the data has:

- `ingest_<venue>` (daily, for the UTC day that just ended) lands every dataset of the venue:
  the archive-backed ones (klines from data.binance.vision files, published the day after;
  instrument snapshots) only here, and the day's final pass of the others. This is the DAG to
  backfill: one run covers a whole day of every dataset.
- `ingest_<venue>_hourly` (hourly) keeps today's partitions of the recent datasets current:
  open interest and funding from REST, liquidations from the collector's websocket segments
  (plus OKX's REST back-stop), and the collector's coverage gaps. It announces nothing: the
  warehouse's daily marts are built from complete days, which the daily run announces.

A scheduled run covers the UTC days its data interval touches plus `CRYPTODW_LOOKBACK_DAYS`
days before (late data: an archive file published a day later replaces the REST rows, a late
segment gets in); explicit `window_start`/`window_end` params (a backfill, the demo) cover
exactly those days. Each mapped task lands one dataset × symbol slice through the venue's
connector; rows are validated by the raw Great Expectations suite before anything is written,
and re-running a window replaces it. Each daily landing task announces its window on its
dataset's asset; a venue whose datasets have all landed schedules `transform_warehouse`.
"""

from __future__ import annotations

from typing import NamedTuple

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, task

from include.cryptodw.alerts import notify_failure
from include.cryptodw.assets import RAW_DATASETS, VENUES

RAW = {(d.venue, d.dataset): Asset(name=d.name, uri=d.uri) for d in RAW_DATASETS}
# Daily only: archive files appear once a day, instruments change rarely.
DAILY_ONLY_DATASETS = frozenset({"klines", "instruments"})
START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")


class Cadence(NamedTuple):
    schedule: CronDataIntervalTimetable  # each run covers the interval that just ended
    # an hourly run still going when the next one is due is failed rather than left to delay
    # it; a daily run may be a long explicit backfill window
    timeout: pendulum.Duration | None
    announces: bool  # landing tasks emit asset events (which schedule transform_warehouse)


CADENCES = {
    "daily": Cadence(CronDataIntervalTimetable("@daily", timezone="UTC"), None, True),
    "hourly": Cadence(
        CronDataIntervalTimetable("@hourly", timezone="UTC"), pendulum.duration(minutes=55), False
    ),
}


@task
def plan_slices(
    venue: str, dataset: str, params=None, data_interval_start=None, data_interval_end=None
) -> list[dict]:
    from include.cryptodw.pipeline import plan_slices as plan

    return plan(venue, params, data_interval_start, data_interval_end)[dataset]


@task
def land(venue: str, dataset: str, announce: bool, slice_: dict, outlet_events=None) -> dict:
    from include.cryptodw.pipeline import land_slice_task

    event = outlet_events[RAW[(venue, dataset)]] if announce else None
    return land_slice_task(dataset, slice_, event)


def ingest_dag(dag_id: str, venue: str, cadence: str, datasets: list[str]):
    """One ingest DAG: `datasets` of `venue`, each planned then landed per slice (mapped)."""
    schedule, timeout, announce = CADENCES[cadence]

    @dag(
        dag_id=dag_id,
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,  # history is landed by explicit backfills, not by a replay of the schedule
        max_active_runs=1,  # runs of one DAG rewrite the same day partitions: one at a time
        dagrun_timeout=timeout,
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
        tags=["layer:ingest", f"source:{venue}", f"cadence:{cadence}"],
        doc_md=__doc__,
    )
    def ingest():
        for dataset in datasets:
            slices = plan_slices.override(task_id=f"plan_{dataset}")(venue, dataset)
            outlets = [RAW[(venue, dataset)]] if announce else []
            land.override(task_id=f"land_{dataset}", outlets=outlets).partial(
                venue=venue, dataset=dataset, announce=announce
            ).expand(slice_=slices)

    return ingest()


for _venue in VENUES:
    _datasets = [dataset for venue, dataset in RAW if venue == _venue]
    ingest_dag(f"ingest_{_venue}", _venue, "daily", _datasets)
    ingest_dag(
        f"ingest_{_venue}_hourly",
        _venue,
        "hourly",
        [dataset for dataset in _datasets if dataset not in DAILY_ONLY_DATASETS],
    )
