"""Airflow 3 with the CeleryExecutor on loopback: its configuration, components, runs, backfills.

The configuration is environment only (`AIRFLOW__*`), as in docker-compose.yml: Postgres holds
the metadata DB and the Celery result backend, Redis is the broker, the Task SDK on the workers
reports to the api-server's execution API. Secrets are generated per stack, never defaults.
Time-based scheduling is off (`[scheduler] use_job_schedule`), so the only runs are the ones
this module creates: triggered runs and `airflow backfill create` runs.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path

from include.cryptodw.airflow_local import airflow, airflow_bin, airflow_env, set_pools
from include.cryptodw.ops.services import Postgres, Redis, ServiceError, Supervisor, wait_until
from include.cryptodw.settings import Settings
from include.cryptodw.windows import Window, window_from_events

log = logging.getLogger(__name__)

# `airflow <args>` of each long-running component, in start order.
COMPONENTS = {
    "api-server": ("api-server",),
    "scheduler": ("scheduler",),
    "dag-processor": ("dag-processor",),
    "triggerer": ("triggerer", "--skip-serve-logs"),
    "celery-worker": ("celery", "worker", "--skip-serve-logs"),
}
HEALTHY_COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
FINISHED_RUN_STATES = ("success", "failed")


class RunFailed(RuntimeError):
    """A DAG run under the Celery stack failed or did not finish in time."""


@dataclass(frozen=True)
class StackSecrets:
    """Generated per stack: the JWT key the api-server and the workers share, the API session
    key and the Fernet key for connections and variables."""

    jwt_secret: str
    api_secret_key: str
    fernet_key: str

    @classmethod
    def generate(cls) -> StackSecrets:
        from cryptography.fernet import Fernet

        return cls(
            jwt_secret=secrets.token_urlsafe(32),
            api_secret_key=secrets.token_urlsafe(32),
            fernet_key=Fernet.generate_key().decode(),
        )


@dataclass(frozen=True)
class StackConfig:
    database: Postgres
    broker: Redis
    api_port: int
    secrets: StackSecrets
    worker_concurrency: int = 2

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


def celery_settings(config: StackConfig) -> dict[str, str]:
    """The `AIRFLOW__*` variables that turn the local Airflow into a CeleryExecutor stack."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": config.database.url("postgresql+psycopg2"),
        "AIRFLOW__CELERY__BROKER_URL": config.broker.url(),
        "AIRFLOW__CELERY__RESULT_BACKEND": config.database.url("db+postgresql"),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(config.worker_concurrency),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{config.api_url}/execution/",
        "AIRFLOW__CORE__FERNET_KEY": config.secrets.fernet_key,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(config.api_port),
        "AIRFLOW__API__BASE_URL": config.api_url,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__SECRET_KEY": config.secrets.api_secret_key,
        "AIRFLOW__API_AUTH__JWT_SECRET": config.secrets.jwt_secret,
        # only the runs this check creates: no time-based (or asset-queued) runs of its own
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        # parse the DAG folder once at start-up; the files do not change during a check
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    }


def celery_env(settings: Settings, config: StackConfig) -> dict[str, str]:
    """The full environment of every component and CLI call of the stack."""
    return {**airflow_env(settings), **celery_settings(config)}


# --------------------------------------------------------------------------- the stack


@dataclass
class CeleryStack:
    """A running stack: its settings, environment and metadata DB, for runs and backfills."""

    settings: Settings
    config: StackConfig
    supervisor: Supervisor

    @property
    def env(self) -> dict[str, str]:
        return celery_env(self.settings, self.config)

    def cli(self, *args: str) -> str:
        done = airflow(self.settings, *args, env=self.env)
        return done.stdout

    def start(self, dag_ids: Sequence[str], timeout: float) -> None:
        """Migrate the DB, create the pools, start every component, wait until all are up and
        `dag_ids` are parsed, then unpause them."""
        (self.settings.data_dir / "airflow").mkdir(parents=True, exist_ok=True)
        self.cli("db", "migrate")
        set_pools(self.settings, env=self.env)
        for name, args in COMPONENTS.items():  # the worker's concurrency is in the env
            self.supervisor.start(name, [airflow_bin(), *args], self.env)
        alive = self.supervisor.check_alive
        wait_until(self._healthy, "every component to report healthy", timeout, 3.0, alive)
        parsed = partial(self._parsed, dag_ids)
        wait_until(parsed, f"the dag-processor to parse {list(dag_ids)}", timeout, 3.0, alive)
        pattern = "^(" + "|".join(dag_ids) + ")$"
        self.cli("dags", "unpause", "--treat-dag-id-as-regex", "--yes", pattern)

    def _healthy(self) -> bool:
        import httpx

        try:
            health = httpx.get(f"{self.config.api_url}/api/v2/monitor/health", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return False
        return all(health.get(c, {}).get("status") == "healthy" for c in HEALTHY_COMPONENTS)

    def _parsed(self, dag_ids: Sequence[str]) -> bool:
        rows = self.query(
            "select dag_id from dag where not is_stale and dag_id = any(%s)", (list(dag_ids),)
        )
        return {r[0] for r in rows} == set(dag_ids)

    def query(self, sql: str, params: Sequence | None = None) -> list[tuple]:
        """A read of Airflow's metadata DB (what the UI shows), for progress and waiting."""
        import psycopg2

        db = self.config.database
        con = psycopg2.connect(
            host=db.host, port=db.port, user=db.user, password=db.password, dbname=db.database
        )
        try:
            with con.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            con.close()

    # ------------------------------------------------------------------- runs

    def trigger(self, dag_id: str, run_id: str, conf: dict) -> tuple[str, str]:
        """`airflow dags trigger` one manual run with `conf` (the window params, which win over
        a data interval); without a logical date, so any number of them can exist."""
        self.cli("dags", "trigger", dag_id, "--run-id", run_id, "--conf", json.dumps(conf))
        return dag_id, run_id

    def backfill(
        self, dag_id: str, first_day: date, last_day: date, reprocess: str = "none"
    ) -> list[tuple[str, str]]:
        """`airflow backfill create` over `[first_day, last_day]` (inclusive logical dates),
        one run at a time; returns the runs it queued."""
        self.cli(
            *("backfill", "create", "--dag-id", dag_id, "--max-active-runs", "1"),
            *("--from-date", first_day.isoformat(), "--to-date", last_day.isoformat()),
            *("--reprocess-behavior", reprocess),
        )
        (backfill_id,) = self.query("select max(id) from backfill where dag_id = %s", (dag_id,))[0]
        runs = self.query(
            "select dag_id, run_id from dag_run where backfill_id = %s order by logical_date",
            (backfill_id,),
        )
        log.info("backfill %s of %s queued %d runs", backfill_id, dag_id, len(runs))
        return [(d, r) for d, r in runs]

    def last_asset_event_id(self) -> int:
        return self.query("select coalesce(max(id), 0) from asset_event")[0][0]

    def announced_window(self, runs: Sequence[tuple[str, str]], after_event_id: int) -> Window:
        """The union of the windows `runs` announced on their assets (events after the given
        id): what an asset-triggered `transform_warehouse` run would refresh."""
        extras = [
            extra
            for dag_id, run_id in runs
            for (extra,) in self.query(
                "select extra from asset_event "
                "where id > %s and source_dag_id = %s and source_run_id = %s",
                (after_event_id, dag_id, run_id),
            )
        ]
        return window_from_events(extras)

    def wait(
        self,
        runs: Sequence[tuple[str, str]],
        timeout: float,
        report: Callable[[str], None] = log.info,
        every: float = 20.0,
    ) -> None:
        """Wait until every run finished, reporting progress; raise unless all succeeded."""
        labels = {run: _label(self, run, runs) for run in runs}
        started = time.monotonic()
        last_report = 0.0
        while True:
            self.supervisor.check_alive()
            states = {run: self._run_state(*run) for run in runs}
            elapsed = time.monotonic() - started
            finished = all(s in FINISHED_RUN_STATES for s, _ in states.values())
            if finished or elapsed - last_report >= every:
                summary = " | ".join(
                    f"{labels[run]} {state} {_progress(tasks)}"
                    for run, (state, tasks) in states.items()
                )
                report(f"[{elapsed:5.0f}s] {summary}")
                last_report = elapsed
            if finished:
                break
            if elapsed > timeout:
                raise RunFailed(f"runs not finished after {timeout:.0f}s: {states}")
            time.sleep(3.0)
        failed = [run for run, (state, _) in states.items() if state != "success"]
        if failed:
            raise RunFailed(f"runs failed: {failed}\n" + self.failure_logs(failed))

    def _run_state(self, dag_id: str, run_id: str) -> tuple[str, Counter]:
        state = self.query(
            "select state from dag_run where dag_id = %s and run_id = %s", (dag_id, run_id)
        )
        tasks = self.query(
            "select coalesce(state, 'none'), count(*) from task_instance "
            "where dag_id = %s and run_id = %s group by 1",
            (dag_id, run_id),
        )
        return (state[0][0] if state else "missing"), Counter(dict(tasks))

    def failure_logs(self, runs: Sequence[tuple[str, str]], lines: int = 30) -> str:
        """The log tails of the failed task instances of `runs`."""
        logs_root = Path(self.env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"])
        parts = []
        for dag_id, run_id in runs:
            failed = self.query(
                "select task_id from task_instance where dag_id = %s and run_id = %s "
                "and state in ('failed', 'upstream_failed')",
                (dag_id, run_id),
            )
            for (task_id,) in failed:
                task_dir = logs_root / f"dag_id={dag_id}/run_id={run_id}/task_id={task_id}"
                attempts = sorted(task_dir.rglob("attempt=*.log"), key=lambda p: p.stat().st_mtime)
                text = attempts[-1].read_text(errors="replace") if attempts else "(no log file)"
                tail = "\n".join(text.splitlines()[-lines:])
                parts.append(f"--- {dag_id} / {run_id} / {task_id}\n{tail}")
        return "\n".join(parts)


def _label(stack: CeleryStack, run: tuple[str, str], runs: Sequence[tuple[str, str]]) -> str:
    """The DAG id, plus the run's data interval start when several runs of one DAG are
    waited for (a backfill's runs)."""
    dag_id, run_id = run
    if sum(d == dag_id for d, _ in runs) == 1:
        return dag_id
    rows = stack.query(
        "select data_interval_start from dag_run where dag_id = %s and run_id = %s",
        (dag_id, run_id),
    )
    start = rows[0][0] if rows and rows[0][0] else None
    return f"{dag_id}[{start.date() if start else run_id}]"


def _progress(tasks: Counter) -> str:
    done = tasks.get("success", 0) + tasks.get("skipped", 0)
    other = {s: n for s, n in tasks.items() if s not in ("success", "skipped")}
    detail = ", ".join(f"{n} {s}" for s, n in sorted(other.items()))
    return f"{done}/{sum(tasks.values())} tasks done" + (f" ({detail})" if detail else "")


def start_stack(
    settings: Settings,
    supervisor: Supervisor,
    database: Postgres,
    broker: Redis,
    dag_ids: Sequence[str],
    timeout: float,
    worker_concurrency: int = 2,
) -> CeleryStack:
    """Configure and start Airflow with the CeleryExecutor over running Postgres and Redis."""
    from include.cryptodw.ops.services import free_port

    config = StackConfig(
        database=database,
        broker=broker,
        api_port=free_port(),
        secrets=StackSecrets.generate(),
        worker_concurrency=worker_concurrency,
    )
    stack = CeleryStack(settings, config, supervisor)
    try:
        stack.start(dag_ids, timeout)
    except ServiceError:
        for process in supervisor.processes:
            log.error("--- %s log tail:\n%s", process.name, process.tail(20))
        raise
    return stack
