"""`make celery-check` building blocks, without starting the stack (that is the make target).

The generated Airflow configuration (keys Airflow knows, loopback only, fresh secrets), the
process supervisor (nothing it started survives it) and the marts comparison.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pytest

from include.cryptodw.ops.celery_stack import StackConfig, StackSecrets, celery_env, celery_settings
from include.cryptodw.ops.marts_diff import Comparison, fingerprint_marts
from include.cryptodw.ops.services import Postgres, Redis, Supervisor


def _config() -> StackConfig:
    return StackConfig(
        database=Postgres(port=15432, user="airflow", password="pg-secret", database="airflow"),
        broker=Redis(port=16379, password="redis-secret"),
        api_port=18080,
        secrets=StackSecrets.generate(),
    )


def test_the_stack_is_configured_for_celery_through_env_only(settings):
    env = celery_env(settings, _config())
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert env["AIRFLOW_HOME"] == str(settings.data_dir / "airflow")


def test_every_endpoint_is_on_loopback():
    env = celery_settings(_config())
    urls = [v for v in env.values() if "://" in v]
    assert len(urls) == 5
    assert {urlsplit(url).hostname for url in urls} == {"127.0.0.1"}
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"


def test_secrets_are_generated_per_stack():
    first, second = StackSecrets.generate(), StackSecrets.generate()
    values = [*vars(first).values(), *vars(second).values()]
    assert len(set(values)) == len(values)
    assert all(len(value) >= 32 for value in values)


def test_every_setting_is_an_option_airflow_knows():
    """A misspelt AIRFLOW__SECTION__KEY is silently ignored by Airflow; catch it here."""
    from airflow.configuration import conf

    conf.load_providers_configuration()  # the [celery] section comes from the provider
    known = conf.configuration_description
    for variable in celery_settings(_config()):
        _, section, key = variable.lower().split("__", 2)
        assert key in known.get(section, {}).get("options", {}), variable


def test_the_supervisor_leaves_no_process_behind(tmp_path: Path):
    with Supervisor(tmp_path / "logs") as supervisor:
        # a child that starts a grandchild, which would outlive a plain kill of the child
        supervisor.start("sleeper", ["bash", "-c", "sleep 300 & wait"])
        supervisor.start("python", [sys.executable, "-c", "import time; time.sleep(300)"])
        _wait_until(lambda: len(supervisor.marked_processes()) == 3)
    assert supervisor.marked_processes() == []
    assert all(not p.running() for p in supervisor.processes)


def _wait_until(condition, timeout_s: float = 30.0) -> None:
    """The grandchild is forked after `start` returns; on a loaded machine that takes a while."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def _warehouse(path: Path, rows: list[tuple]) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.prices_daily (d date, asset varchar, close_usd double)")
        con.executemany("insert into marts.prices_daily values (?, ?, ?)", rows)
    return path


ROWS = [("2026-02-01", "BTC", 78000.5), ("2026-02-01", "ETH", 2300.25), ("2026-02-02", "BTC", None)]


@pytest.mark.parametrize(
    ("candidate_rows", "verdict"),
    [
        (list(reversed(ROWS)), "same"),
        ([*ROWS[:2], ("2026-02-02", "BTC", 0.0)], "VALUES DIFFER"),
        (ROWS[:2], "ROWS DIFFER"),
        ([*ROWS, ROWS[0]], "ROWS DIFFER"),
    ],
)
def test_marts_comparison_ignores_order_only(tmp_path: Path, candidate_rows, verdict):
    reference = fingerprint_marts(_warehouse(tmp_path / "local.duckdb", ROWS))
    candidate = fingerprint_marts(_warehouse(tmp_path / "celery.duckdb", candidate_rows))
    comparison = Comparison(reference, {"celery": candidate})
    assert comparison.table().splitlines()[2].endswith(f"  {verdict}")
    assert comparison.differences() == ([] if verdict == "same" else ["celery: prices_daily"])


def test_a_missing_mart_is_a_difference(tmp_path: Path):
    reference = fingerprint_marts(_warehouse(tmp_path / "local.duckdb", ROWS))
    comparison = Comparison(reference, {"celery": {}})
    assert "MISSING" in comparison.table()
    assert comparison.differences() == ["celery: prices_daily"]
