"""Alert when a raw source goes stale: `dbt source freshness` every hour.

Each raw table declares how fresh it must be (`freshness` with `loaded_at_field` in
dbt_project/models/staging/<venue>/_<venue>__sources.yml): past `warn_after` the task logs a
warning, past `error_after` (or when a source cannot be read) it fails naming every stale
source, and the failure callback logs it and posts it to `CRYPTODW_ALERT_WEBHOOK` if set. Only
the configured venues (`CRYPTODW_VENUES`) are checked. The check reads the lake, never the
warehouse file, so it needs no slot in the `duckdb_writer` pool. `python -m
include.cryptodw.cli freshness` runs the same check by hand.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from include.cryptodw.alerts import notify_failure


@dag(
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,  # only the lake's state now matters, not missed past hours
    max_active_runs=1,
    default_args={
        "owner": "data-eng",
        "on_failure_callback": notify_failure,
        "retries": 1,  # one more look before alerting (a landing may be finishing)
        "retry_delay": pendulum.duration(minutes=5),
    },
    tags=["layer:monitor"],
    doc_md=__doc__,
)
def monitor_freshness():
    @task
    def check_source_freshness() -> dict[str, str]:
        from include.cryptodw.dbt_runner import check_freshness
        from include.cryptodw.settings import load_settings

        return {entry.source: entry.status for entry in check_freshness(load_settings())}

    check_source_freshness()


monitor_freshness()
