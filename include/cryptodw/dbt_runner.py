"""Run dbt (the warehouse's single writer) for a window, in-process.

One refresh is two `dbt build` invocations: the staging layer first, so its Great Expectations
gate runs before anything reaches the marts, then everything downstream of staging. Both use
the same window vars, so re-running a window replaces that window in the incremental facts.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

from include.cryptodw.settings import DBT_PROJECT_DIR, Settings
from include.cryptodw.windows import Window

log = logging.getLogger(__name__)

STAGING_SELECTOR = "staging"
DOWNSTREAM_SELECTOR = "downstream_of_staging"


class DbtBuildError(RuntimeError):
    """dbt failed: the message lists the failing nodes and their messages."""


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


def dbt_env(settings: Settings) -> dict[str, str]:
    """Environment the dbt profile and sources read (see dbt_project/profiles.yml)."""
    return {
        "CRYPTODW_WAREHOUSE_PATH": str(settings.warehouse_path),
        "CRYPTODW_RAW_DIR": str(settings.raw_dir),
        "CRYPTODW_MANIFEST_DIR": str(settings.manifest_dir),
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
        outcome = dbtRunner().invoke(args)
    results = _node_results(outcome.result)
    failed = [r for r in results if r["status"] in ("error", "fail", "runtime error")]
    if not outcome.success or failed:
        if outcome.exception is not None and not failed:
            raise DbtBuildError(f"dbt {command} could not run: {outcome.exception}")
        lines = "\n".join(f"  - {r['node']}: {r['status']}: {r['message']}" for r in failed)
        raise DbtBuildError(f"dbt {command} failed on {len(failed)} node(s):\n{lines}")
    log.info("dbt %s: %d nodes ok", command, len(results))
    return results


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
