"""Build the warehouse with dbt for the landed window, gate each layer, publish a snapshot.

Scheduled on the raw assets: when every landing task of a venue's ingest run has announced
its window, this DAG builds staging, runs the staging Great Expectations gate, builds facts
and marts, runs the mart gate, publishes a read-only snapshot for BI tools, regenerates the
dbt docs site, and writes the daily brief of the window's last day from the snapshot. dbt
tasks run in the one-slot `duckdb_writer` pool: DuckDB allows a single writing process per
file. A manual run (or the demo) passes `window_start`/`window_end` params instead.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, AssetAll, AssetAny, Param, dag, task

from include.cryptodw.alerts import notify_failure
from include.cryptodw.assets import RAW_DATASETS, VENUES, WAREHOUSE_ASSET_URI

RAW_ASSETS = [Asset(name=d.name, uri=d.uri) for d in RAW_DATASETS]
# A venue is ready when every one of its datasets has landed; any ready venue triggers a run.
VENUE_LANDED = AssetAny(
    *(
        AssetAll(*(a for d, a in zip(RAW_DATASETS, RAW_ASSETS, strict=True) if d.venue == venue))
        for venue in VENUES
    )
)
WAREHOUSE = Asset(name="warehouse_marts", uri=WAREHOUSE_ASSET_URI)


@dag(
    schedule=VENUE_LANDED,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "data-eng",
        "on_failure_callback": notify_failure,
        "retries": 1,
        "retry_delay": pendulum.duration(minutes=1),
    },
    params={
        "window_start": Param(None, type=["null", "string"], format="date"),
        "window_end": Param(None, type=["null", "string"], format="date"),
    },
    tags=["layer:transform"],
    doc_md=__doc__,
)
def transform_warehouse():
    @task
    def resolve_window(params=None, triggering_asset_events=None) -> dict:
        from include.cryptodw.refresh import refresh_window

        return refresh_window(params, triggering_asset_events).as_dict()

    @task(pool="duckdb_writer")
    def dbt_build_staging(window: dict) -> int:
        from include.cryptodw.refresh import run_step

        return run_step("build_staging", window)

    @task(pool="duckdb_writer")
    def validate_staging(window: dict) -> int:
        from include.cryptodw.refresh import run_step

        return run_step("validate_staging", window)

    @task(pool="duckdb_writer")
    def dbt_build_marts(window: dict) -> int:
        from include.cryptodw.refresh import run_step

        return run_step("build_marts", window)

    @task(pool="duckdb_writer")
    def validate_marts(window: dict) -> int:
        from include.cryptodw.refresh import run_step

        return run_step("validate_marts", window)

    @task(pool="duckdb_writer", outlets=[WAREHOUSE])
    def publish_warehouse(run_id=None) -> dict:
        from include.cryptodw.refresh import publish_snapshot
        from include.cryptodw.settings import load_settings

        published = publish_snapshot(load_settings(), run_id)
        return {"path": str(published.path), "mart_rows": published.mart_rows}

    @task(pool="duckdb_writer")
    def generate_docs() -> str:
        from include.cryptodw.refresh import generate_docs as generate
        from include.cryptodw.settings import load_settings

        return str(generate(load_settings()))

    @task
    def write_brief(window: dict) -> str:
        from include.cryptodw.refresh import run_step

        return run_step("write_brief", window)

    window = resolve_window()
    (
        dbt_build_staging(window)
        >> validate_staging(window)
        >> dbt_build_marts(window)
        >> validate_marts(window)
        >> publish_warehouse()
        >> generate_docs()
        >> write_brief(window)
    )


transform_warehouse()
