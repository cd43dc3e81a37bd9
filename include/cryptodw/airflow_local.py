"""Drive a local Airflow (metadata DB under the data directory) from Python.

Used by `make demo` and the end-to-end tests: they run the real DAGs through the Airflow CLI
(`airflow dags test` executes real task instances, records them in the metadata DB, emits
asset events), instead of calling the package functions directly.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from include.cryptodw.settings import REPO_ROOT, Settings

log = logging.getLogger(__name__)

POOLS = {
    "duckdb_writer": (1, "The one process allowed to write the DuckDB warehouse file"),
    "binance_api": (4, "Concurrent landing tasks calling Binance (rate limits)"),
    "bybit_api": (4, "Concurrent landing tasks calling Bybit (rate limits)"),
    "okx_api": (2, "Concurrent landing tasks calling OKX (strict per-endpoint limits)"),
}


class AirflowRunError(RuntimeError):
    """An Airflow command failed or a DAG run did not succeed."""


def airflow_env(settings: Settings) -> dict[str, str]:
    """Environment for a self-contained local Airflow whose state lives in the data dir."""
    home = settings.data_dir / "airflow"
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "CRYPTODW_DATA_DIR": str(settings.data_dir),
            "CRYPTODW_SOURCE_MODE": settings.source_mode,
            "CRYPTODW_SYMBOLS": ",".join(settings.symbols),
            "CRYPTODW_VENUES": ",".join(settings.venues),
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
        }
    )
    return env


def airflow_bin() -> str:
    """The `airflow` executable of the running interpreter's environment."""
    return str(Path(sys.executable).with_name("airflow"))


def airflow(
    settings: Settings, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run one `airflow` CLI command; raise with its output tail when it fails.

    `env` replaces the local environment (`airflow_env`), e.g. with a CeleryExecutor's.
    """
    cmd = [airflow_bin(), *args]
    log.info("$ %s", " ".join(cmd))
    done = subprocess.run(cmd, env=env or airflow_env(settings), capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
        raise AirflowRunError(f"`airflow {' '.join(args)}` exited {done.returncode}:\n{tail}")
    return done


def init_airflow(settings: Settings) -> None:
    """Create or migrate the metadata DB and the pools (idempotent)."""
    (settings.data_dir / "airflow").mkdir(parents=True, exist_ok=True)
    airflow(settings, "db", "migrate")
    set_pools(settings)


def set_pools(settings: Settings, env: dict[str, str] | None = None) -> None:
    """Create or update every pool in `POOLS` with one `airflow pools import` (idempotent)."""
    pools_file = settings.data_dir / "airflow" / "pools.json"
    pools_file.parent.mkdir(parents=True, exist_ok=True)
    pools = {
        name: {"slots": slots, "description": description, "include_deferred": False}
        for name, (slots, description) in POOLS.items()
    }
    pools_file.write_text(json.dumps(pools, indent=2))
    airflow(settings, "pools", "import", str(pools_file), env=env)


def dag_file_of(dag_id: str) -> Path:
    """The file defining `dag_id` (the ingest DAGs are generated, one per venue, in one file)."""
    name = "ingest_exchanges" if dag_id.startswith("ingest_") else dag_id
    return REPO_ROOT / "dags" / f"{name}.py"


def run_dag(settings: Settings, dag_id: str, logical_date: str, conf: dict) -> str:
    """Execute one DAG run through Airflow and fail unless every task instance succeeded."""
    dag_file = dag_file_of(dag_id)
    done = airflow(
        settings, "dags", "test", dag_id, logical_date, "-f", str(dag_file), "-c", json.dumps(conf)
    )  # exits non-zero when the DAG run fails
    return done.stdout + done.stderr
