"""Run dbt (the warehouse's single writer) for a window, in-process.

One refresh is two `dbt build` invocations: the staging layer first, so its Great Expectations
gate runs before anything reaches the marts, then everything downstream of staging. Both use
the same window vars, so re-running a window replaces that window in the incremental facts.

`check_freshness` runs `dbt source freshness` against the sources' own `freshness` thresholds
(`loaded_at_field` per raw table) and raises `StaleSourceError` naming every stale source. It
reads only the lake, from an in-memory database, so it never waits for the warehouse writer.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from include.cryptodw.assets import VENUES
from include.cryptodw.lake.storage import duckdb_filesystems
from include.cryptodw.settings import DBT_PROJECT_DIR, Settings
from include.cryptodw.windows import Window

log = logging.getLogger(__name__)

STAGING_SELECTOR = "staging"
DOWNSTREAM_SELECTOR = "downstream_of_staging"


class DbtBuildError(RuntimeError):
    """dbt failed: the message lists the failing nodes and their messages."""


class StaleSourceError(RuntimeError):
    """A source is past its `error_after` freshness threshold, or could not be read."""

    def __init__(self, stale: list[SourceFreshness]):
        self.stale = stale
        lines = "\n".join(f"  - {entry.describe()}" for entry in stale)
        super().__init__(f"{len(stale)} source(s) are stale:\n{lines}")


@dataclass(frozen=True)
class SourceFreshness:
    """One source's freshness: dbt's status (pass, warn, error, runtime error) and its age."""

    source: str  # "<source>.<table>", e.g. "binance.funding"
    status: str
    max_loaded_at: datetime | None
    age_hours: float | None
    message: str | None = None

    @property
    def is_stale(self) -> bool:
        return self.status in ("error", "runtime error")

    def describe(self) -> str:
        if self.max_loaded_at is None:
            return f"{self.source}: {self.status}: {self.message or 'no rows'}"
        return (
            f"{self.source}: {self.status}: newest row {self.max_loaded_at:%Y-%m-%d %H:%M} UTC, "
            f"{self.age_hours:.1f} h old"
        )


def build_args(
    settings: Settings,
    command: str,
    selector: str | None,
    window: Window | None,
    target_dir: Path | None = None,
) -> list[str]:
    """The dbt CLI arguments for one invocation (also printed for people who rerun by hand).

    `command` may have a sub-command, e.g. "docs generate".
    """
    args = [
        *command.split(),
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target_dir or settings.dbt_target_dir),
        "--log-path",
        str(settings.dbt_log_dir),
    ]
    if selector:
        args += ["--selector", selector]
    if window is not None:
        args += ["--vars", json.dumps(window.as_dict())]
    return args


def dbt_env(settings: Settings, warehouse_path: str | None = None) -> dict[str, str]:
    """Environment the dbt profile and sources read (see dbt_project/profiles.yml)."""
    return {
        "CRYPTODW_WAREHOUSE_PATH": warehouse_path or str(settings.warehouse_path),
        "CRYPTODW_RAW_DIR": str(settings.raw_dir),
        "CRYPTODW_MANIFEST_DIR": str(settings.manifest_dir),
        # a Python literal: the profile renders it with `as_native`
        "CRYPTODW_DBT_FILESYSTEMS": repr(duckdb_filesystems(settings)),
        "CRYPTODW_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


@contextmanager
def _environment(values: dict[str, str]):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_dbt(
    settings: Settings,
    command: str = "build",
    selector: str | None = None,
    window: Window | None = None,
    extra_args: Sequence[str] = (),
    target_dir: Path | None = None,
) -> list[dict]:
    """Invoke dbt in-process; raise DbtBuildError naming every failed node. Returns node results."""
    from dbt.cli.main import dbtRunner

    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    args = build_args(settings, command, selector, window, target_dir) + list(extra_args)
    log.info("dbt %s", " ".join(args))
    with _environment(dbt_env(settings)):
        try:
            outcome = dbtRunner().invoke(args)
        finally:
            _close_warehouse()
    results = _node_results(outcome.result)
    failed = [r for r in results if r["status"] in ("error", "fail", "runtime error")]
    if not outcome.success or failed:
        if outcome.exception is not None and not failed:
            raise DbtBuildError(f"dbt {command} could not run: {outcome.exception}")
        lines = "\n".join(f"  - {r['node']}: {r['status']}: {r['message']}" for r in failed)
        raise DbtBuildError(f"dbt {command} failed on {len(failed)} node(s):\n{lines}")
    log.info("dbt %s: %d nodes ok", command, len(results))
    return results


def _close_warehouse() -> None:
    """Close the DuckDB file dbt-duckdb kept open for the invocation (profile `keep_open`), so
    this process and others can open it again (read-only or as the next writer) at once."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    try:
        environment = DuckDBConnectionManager.env()
    except Exception:  # no connection was opened (e.g. `dbt parse`)
        return
    environment.close()
    DuckDBConnectionManager.close_all_connections()


def source_freshness(settings: Settings) -> list[SourceFreshness]:
    """`dbt source freshness` for every source with a `freshness` block, except venues that are
    not configured (`CRYPTODW_VENUES`): those are never landed, so they would always be stale."""
    from dbt.cli.main import dbtRunner

    target_dir = settings.dbt_target_dir.parent / "freshness"  # keeps the builds' parse cache
    args = build_args(settings, "source freshness", None, None, target_dir)
    for venue in sorted(set(VENUES) - set(settings.venues)):
        args += ["--exclude", f"source:{venue}"]
    log.info("dbt %s", " ".join(args))
    with _environment(dbt_env(settings, warehouse_path=":memory:")):
        outcome = dbtRunner().invoke(args)
    if outcome.result is None or not hasattr(outcome.result, "results"):
        raise DbtBuildError(f"dbt source freshness could not run: {outcome.exception}")
    return [_freshness(result) for result in outcome.result.results]


def check_freshness(settings: Settings) -> list[SourceFreshness]:
    """Every checked source's freshness; raise StaleSourceError naming the stale ones."""
    results = source_freshness(settings)
    for entry in results:
        if entry.status == "warn":
            log.warning("source past its warn_after threshold: %s", entry.describe())
    stale = [entry for entry in results if entry.is_stale]
    if stale:
        raise StaleSourceError(stale)
    log.info("%d sources fresh", len(results))
    return results


def _freshness(result) -> SourceFreshness:
    node = getattr(result, "node", None)
    name = f"{node.source_name}.{node.name}" if node is not None else "?"
    max_loaded_at = getattr(result, "max_loaded_at", None)
    if max_loaded_at is not None and max_loaded_at.tzinfo is not None:
        max_loaded_at = max_loaded_at.astimezone(UTC).replace(tzinfo=None)
    age = getattr(result, "age", None)
    return SourceFreshness(
        source=name,
        status=str(result.status),
        max_loaded_at=max_loaded_at,
        age_hours=round(age / 3600, 2) if age is not None else None,
        message=result.message,
    )


def _node_results(result) -> list[dict]:
    if result is None or not hasattr(result, "results"):
        return []
    return [
        {
            "node": getattr(r.node, "unique_id", str(r.node)),
            "status": str(r.status),
            "message": r.message,
            "seconds": round(r.execution_time or 0.0, 3),
        }
        for r in result.results
    ]
