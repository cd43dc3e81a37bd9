"""DAG files import cleanly, follow the house rules, and stay thin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_ID_PREFIXES = ("ingest_", "transform_", "validate_", "maintain_")


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dag_bag):
    assert dag_bag.import_errors == {}
    assert set(dag_bag.dag_ids) == {"ingest_binance", "transform_warehouse"}


def test_dags_follow_house_rules(dag_bag):
    for dag_id, dag in dag_bag.dags.items():
        assert dag_id.startswith(DAG_ID_PREFIXES), dag_id
        assert Path(dag.fileloc).stem == dag_id, f"{dag_id}: file name must equal dag_id"
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
    scheduled_on = {asset.name for asset in dag.timetable.asset_condition.objects}
    assert scheduled_on == {d.name for d in RAW_DATASETS}
    ingest = dag_bag.dags["ingest_binance"]
    produced = {o.name for task in ingest.tasks for o in task.outlets}
    assert produced == scheduled_on


def test_transform_structure_gates_each_layer_before_publishing(dag_bag):
    dag = dag_bag.dags["transform_warehouse"]
    downstream = {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
    assert downstream["dbt_build_staging"] == ["validate_staging"]
    assert downstream["validate_staging"] == ["dbt_build_marts"]
    assert downstream["dbt_build_marts"] == ["validate_marts"]
    assert downstream["validate_marts"] == ["publish_warehouse"]
    writers = [t for t in dag.tasks if t.task_id.startswith(("dbt_", "validate_", "publish_"))]
    assert {t.pool for t in writers} == {"duckdb_writer"}


def test_ingest_maps_landing_over_slices(dag_bag):
    dag = dag_bag.dags["ingest_binance"]
    land_tasks = {t.task_id for t in dag.tasks if t.task_id.startswith("land_")}
    assert land_tasks == {"land_klines", "land_open_interest", "land_funding", "land_liquidations"}
    assert all(dag.get_task(t).is_mapped for t in land_tasks)


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
