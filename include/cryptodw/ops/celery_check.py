"""`make celery-check`: the DAGs under the CeleryExecutor give the same marts as a local run.

On a Debian machine, as root:

1. install PostgreSQL and Redis from Debian's packages if they are missing;
2. simulate the offline exchange over the end-to-end window (the `crash` preset, 11 days,
   BTCUSDT and ETHUSDT, every venue) and give the local run an identical copy;
3. local reference: run the ingest DAGs and `transform_warehouse` with `airflow dags test`
   (`airflow_local.run_dag`), in its own data directory;
4. Celery: start Postgres and Redis on loopback (own data directories, free ports, generated
   passwords), configure Airflow through `AIRFLOW__*` variables only, migrate, create the
   pools, start api-server, scheduler, dag-processor, triggerer and one Celery worker; trigger
   the ingest DAGs (they run side by side), then `transform_warehouse`, over the same window;
5. Airflow 3 backfill: `airflow backfill create` of `ingest_binance` over two days of the
   window, then a warehouse refresh of the windows its runs announced on their assets; twice
   (the second re-runs the completed runs);
6. compare every table in schema `marts` (row count + order-independent checksum) of each
   Celery result with the local one, print the table, exit 1 on any difference.

Every process started is stopped on exit, whatever happens (and swept up by an environment
marker), and the servers' data directories are removed. The lake and warehouses of both runs
stay under `<work dir>/local` and `<work dir>/celery` for inspection, with the component logs
under `<work dir>/logs`.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from functools import partial
from pathlib import Path

from include.cryptodw.airflow_local import init_airflow, run_dag
from include.cryptodw.assets import VENUES
from include.cryptodw.offline import prepare_offline_exchange, truth_dir
from include.cryptodw.ops.celery_stack import CeleryStack, start_stack
from include.cryptodw.ops.marts_diff import Comparison, Fingerprint, fingerprint_marts
from include.cryptodw.ops.services import (
    ServiceError,
    Supervisor,
    install_packages,
    missing_packages,
    start_postgres,
    start_redis,
)
from include.cryptodw.settings import Settings, load_settings
from include.cryptodw.windows import Window

log = logging.getLogger("cryptodw.celery_check")

# The end-to-end tests' window (tests/e2e/offline_run.py): 11 days crossing a month and an ISO
# week boundary, with the crash at the end.
WINDOW = Window(date(2026, 1, 26), date(2026, 2, 6))
SYMBOLS = ("BTCUSDT", "ETHUSDT")
PRESET = "crash"
# Part of the window for the Airflow backfill: two daily runs across the month boundary.
BACKFILL_DAG = "ingest_binance"
BACKFILL_DAYS = Window(date(2026, 1, 31), date(2026, 2, 2))
TRANSFORM_DAG = "transform_warehouse"


def ingest_dag_ids(settings: Settings) -> list[str]:
    return [f"ingest_{venue}" for venue in settings.venues]


def run_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, source_mode="simulated", symbols=SYMBOLS, venues=VENUES)


# --------------------------------------------------------------------------- phases


def prepare_exchanges(celery: Settings, local: Settings) -> None:
    """Simulate the offline exchange once; the local run gets a byte-identical copy."""
    prepare_offline_exchange(celery, PRESET, WINDOW)
    shutil.copytree(celery.replay_dir, local.replay_dir)
    shutil.copytree(truth_dir(celery), truth_dir(local))


def run_local(local: Settings) -> dict[str, Fingerprint]:
    """The reference: every DAG over the window with `airflow dags test` (SQLite, in-process)."""
    init_airflow(local)
    for dag_id in [*ingest_dag_ids(local), TRANSFORM_DAG]:
        log.info("local: airflow dags test %s", dag_id)
        run_dag(local, dag_id, WINDOW.end.isoformat(), WINDOW.as_dict())
    return fingerprint_marts(local.published_path)


def run_window(stack: CeleryStack, timeout: float) -> dict[str, Fingerprint]:
    """Trigger the ingest DAGs together, then the warehouse refresh, over the whole window."""
    ingests = [
        stack.trigger(dag_id, "celery_check__window", WINDOW.as_dict())
        for dag_id in ingest_dag_ids(stack.settings)
    ]
    stack.wait(ingests, timeout)
    return refresh(stack, WINDOW, "celery_check__window", timeout)


def refresh(
    stack: CeleryStack, window: Window, run_id: str, timeout: float
) -> dict[str, Fingerprint]:
    """A `transform_warehouse` run over `window`; the fingerprints of what it published."""
    stack.wait([stack.trigger(TRANSFORM_DAG, run_id, window.as_dict())], timeout)
    return fingerprint_marts(stack.settings.published_path)


def run_backfill(stack: CeleryStack, attempt: int, timeout: float) -> dict[str, Fingerprint]:
    """`airflow backfill create` over BACKFILL_DAYS, then refresh what it landed.

    The first backfill creates one run per day; the second (`--reprocess-behavior completed`)
    clears and re-runs those same runs, so both really land the days again. The refresh
    covers the windows the runs announced on their assets (a day plus the lookback each),
    as the asset-scheduled `transform_warehouse` run would.
    """
    last_day = BACKFILL_DAYS.end - timedelta(days=1)
    reprocess = "none" if attempt == 1 else "completed"
    events_before = stack.last_asset_event_id()
    runs = stack.backfill(BACKFILL_DAG, BACKFILL_DAYS.start, last_day, reprocess)
    stack.wait(runs, timeout)
    landed = stack.announced_window(runs, events_before)
    log.info("the backfill announced %s..%s (end exclusive)", landed.start, landed.end)
    return refresh(stack, landed, f"celery_check__backfill_{attempt}", timeout)


def start_services(
    supervisor: Supervisor,
    services_dir: Path,
    settings: Settings,
    timeout: float,
    worker_concurrency: int,
) -> CeleryStack:
    """Postgres and Redis on loopback with generated passwords, then Airflow over them."""
    database = start_postgres(
        supervisor,
        services_dir / "postgres",
        database="airflow",
        user="airflow",
        password=secrets.token_urlsafe(24),
    )
    broker = start_redis(supervisor, services_dir / "redis", password=secrets.token_urlsafe(24))
    dag_ids = [*ingest_dag_ids(settings), TRANSFORM_DAG]
    return start_stack(settings, supervisor, database, broker, dag_ids, timeout, worker_concurrency)


# --------------------------------------------------------------------------- the check

WORK_DIR_MARK = ".celery-check"


def reset_work_dir(work_dir: Path) -> None:
    """Empty the work dir of a previous check; refuse to wipe a directory it did not create."""
    if work_dir.exists() and any(work_dir.iterdir()):
        if not (work_dir / WORK_DIR_MARK).exists():
            raise SystemExit(f"{work_dir} is not empty and not a celery-check work dir")
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / WORK_DIR_MARK).touch()


def check(work_dir: Path, timeout: float, backfill: bool, worker_concurrency: int) -> int:
    phases: list[tuple[str, float]] = []

    def phase(title: str, step: Callable):
        log.info("== %s", title)
        started = time.monotonic()
        result = step()
        phases.append((title, time.monotonic() - started))
        log.info("== %s: done in %.0fs", title, phases[-1][1])
        return result

    phase("Debian packages", lambda: install_packages(missing_packages()))
    reset_work_dir(work_dir)
    local, celery = run_settings(work_dir / "local"), run_settings(work_dir / "celery")
    phase("offline exchange", lambda: prepare_exchanges(celery, local))
    reference = phase("local run (airflow dags test)", lambda: run_local(local))

    candidates: dict[str, dict[str, Fingerprint]] = {}
    services_dir = Path(tempfile.mkdtemp(prefix="cryptodw-celery-"))
    services_dir.chmod(0o755)  # the postgres account must reach its data directory
    try:
        with Supervisor(work_dir / "logs") as supervisor:
            stack = phase(
                "services and Airflow (CeleryExecutor)",
                partial(
                    start_services, supervisor, services_dir, celery, timeout, worker_concurrency
                ),
            )
            candidates["celery"] = phase("celery run", partial(run_window, stack, timeout))
            if backfill:
                for attempt in (1, 2):
                    candidates[f"backfill {attempt}"] = phase(
                        f"airflow backfill create #{attempt}",
                        partial(run_backfill, stack, attempt, timeout),
                    )
        if still := supervisor.marked_processes():
            raise ServiceError(f"processes survived the shutdown: {still}")
        log.info("all %d started processes stopped", len(supervisor.processes))
    finally:
        shutil.rmtree(services_dir, ignore_errors=True)

    comparison = Comparison(reference, candidates)
    print()
    print(comparison.table())
    print()
    for title, seconds in phases:
        print(f"  {title:<40} {seconds:6.0f}s")
    print(f"  {'total':<40} {sum(s for _, s in phases):6.0f}s")
    differences = comparison.differences()
    if differences:
        print(f"\nFAILED: {len(differences)} marts tables differ from the local run:")
        for difference in differences:
            print(f"  {difference}")
        return 1
    print(f"\nOK: the {len(comparison.tables)} marts tables are identical in every run")
    return 0


def _stop_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="celery_check", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=load_settings().data_dir / "celery-check",
        help="where both runs and the logs go; wiped first (default: <data dir>/celery-check)",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per wait")
    parser.add_argument("--no-backfill", action="store_true", help="skip the backfill part")
    parser.add_argument("--worker-concurrency", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per health poll otherwise
    if os.geteuid() != 0:
        parser.error("run as root: it installs Debian packages and runs Postgres as its user")
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    return check(
        args.work_dir.resolve(), args.timeout, not args.no_backfill, args.worker_concurrency
    )


if __name__ == "__main__":
    sys.exit(main())
