"""DAG files import cleanly, follow the house rules, and stay thin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from include.cryptodw.airflow_local import dag_file_of

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_ID_PREFIXES = ("ingest_", "transform_", "validate_", "maintain_", "monitor_")


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dag_bag):
    from include.cryptodw.assets import VENUES

    assert dag_bag.import_errors == {}
    assert set(dag_bag.dag_ids) == (
        {f"ingest_{v}" for v in VENUES}
        | {f"ingest_{v}_hourly" for v in VENUES}
        | {"transform_warehouse", "monitor_freshness"}
    )


def test_dags_follow_house_rules(dag_bag):
    for dag_id, dag in dag_bag.dags.items():
        assert dag_id.startswith(DAG_ID_PREFIXES), dag_id
        assert Path(dag.fileloc) == dag_file_of(dag_id), f"{dag_id}: defined in an unexpected file"
        assert dag.tags, f"{dag_id}: needs tags"
        assert dag.default_args.get("owner"), f"{dag_id}: needs an owner"
        assert dag.default_args.get("retries", 0) >= 1, f"{dag_id}: needs retries"
        assert dag.default_args.get("on_failure_callback"), f"{dag_id}: needs a failure alert"
        assert dag.catchup is False, f"{dag_id}: catchup must be explicit and off"
        assert dag.max_active_runs == 1, f"{dag_id}: one run at a time"
        assert dag.schedule is not None, f"{dag_id}: needs an explicit schedule"
        assert dag.doc_md, f"{dag_id}: needs doc_md"


def test_transform_is_scheduled_on_every_raw_asset(dag_bag):
    from include.cryptodw.assets import RAW_DATASETS

    dag = dag_bag.dags["transform_warehouse"]
    per_venue = dag.timetable.asset_condition.objects  # any venue, once all its datasets landed
    for venue_landed in per_venue:
        scheduled_on = {asset.name for asset in venue_landed.objects}
        (venue,) = {name.split("__")[0].removeprefix("raw_") for name in scheduled_on}
        assert scheduled_on == {d.name for d in RAW_DATASETS if d.venue == venue}
        ingest = dag_bag.dags[f"ingest_{venue}"]
        produced = {o.name for task in ingest.tasks for o in task.outlets}
        assert produced == scheduled_on
    assert len(per_venue) == len({d.venue for d in RAW_DATASETS})


def test_transform_structure_gates_each_layer_before_publishing(dag_bag):
    dag = dag_bag.dags["transform_warehouse"]
    downstream = {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
    assert downstream["dbt_build_staging"] == ["validate_staging"]
    assert downstream["validate_staging"] == ["dbt_build_marts"]
    assert downstream["dbt_build_marts"] == ["validate_marts"]
    assert downstream["validate_marts"] == ["publish_warehouse"]
    assert downstream["publish_warehouse"] == ["generate_docs"]
    assert downstream["generate_docs"] == ["write_brief"]
    assert downstream["write_brief"] == []  # the brief reads the published snapshot, last
    writers = [
        t for t in dag.tasks if t.task_id.startswith(("dbt_", "validate_", "publish_", "generate_"))
    ]
    assert {t.pool for t in writers} == {"duckdb_writer"}


def test_ingest_maps_landing_over_slices_in_the_venues_pool(dag_bag):
    from include.cryptodw.airflow_local import POOLS
    from include.cryptodw.assets import VENUE_DATASETS, VENUES

    archive_backed = {"klines", "instruments"}
    for venue in VENUES:
        daily, hourly = dag_bag.dags[f"ingest_{venue}"], dag_bag.dags[f"ingest_{venue}_hourly"]
        assert _land_tasks(daily) == {f"land_{d}" for d in VENUE_DATASETS[venue]}
        assert _land_tasks(hourly) == {
            f"land_{d}" for d in VENUE_DATASETS[venue] if d not in archive_backed
        }
        assert {"land_open_interest", "land_funding", "land_liquidations"} <= _land_tasks(hourly)
        for dag in (daily, hourly):
            assert all(dag.get_task(t).is_mapped for t in _land_tasks(dag))
            assert {t.pool for t in dag.tasks} == {f"{venue}_api"} and f"{venue}_api" in POOLS


def _land_tasks(dag) -> set[str]:
    return {t.task_id for t in dag.tasks if t.task_id.startswith("land_")}


def test_ingest_schedules_follow_the_data(dag_bag):
    """Daily runs cover the UTC day that just ended and announce it (the warehouse is built
    from complete days); hourly runs keep today current, announce nothing, and give up
    before the next hour's run is due."""
    from include.cryptodw.assets import VENUES

    for venue in VENUES:
        daily, hourly = dag_bag.dags[f"ingest_{venue}"], dag_bag.dags[f"ingest_{venue}_hourly"]
        assert (daily.timetable.__class__.__name__, daily.timetable.expression) == (
            "CronDataIntervalTimetable",
            "0 0 * * *",
        )
        assert (hourly.timetable.__class__.__name__, hourly.timetable.expression) == (
            "CronDataIntervalTimetable",
            "0 * * * *",
        )
        assert all(t.outlets for t in daily.tasks if t.task_id.startswith("land_"))
        assert not any(t.outlets for t in hourly.tasks)
        assert hourly.dagrun_timeout.total_seconds() < 3600


def test_freshness_monitor_checks_the_lake_hourly(dag_bag):
    dag = dag_bag.dags["monitor_freshness"]
    assert dag.timetable.expression == "0 * * * *"
    assert [t.task_id for t in dag.tasks] == ["check_source_freshness"]
    assert {t.pool for t in dag.tasks} == {"default_pool"}  # reads the lake, not the warehouse


@pytest.mark.parametrize("dag_file", sorted(DAGS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_dag_files_do_not_import_heavy_libraries_at_parse_time(dag_file):
    probe = (
        "import runpy, sys; runpy.run_path(sys.argv[1]);"
        "heavy = [m for m in ('pandas', 'duckdb', 'pyarrow', 'great_expectations', 'dbt')"
        " if m in sys.modules]; print(','.join(heavy))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(dag_file)], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1:] in ([], [""]), done.stdout
