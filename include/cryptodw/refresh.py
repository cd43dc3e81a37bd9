"""The warehouse refresh, step by step: build staging, gate it, build the marts, gate them,
publish. Each step is one Airflow task in `transform_warehouse` and one call in the CLI.

Bad data stops at the first failed gate: a failed staging gate means the marts are not
rebuilt; a failed mart gate means the working warehouse is not published, so BI tools and
analysts keep reading the previous snapshot.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from include.cryptodw.dbt_runner import DOWNSTREAM_SELECTOR, STAGING_SELECTOR, run_dbt
from include.cryptodw.publish import Published, publish
from include.cryptodw.settings import Settings
from include.cryptodw.windows import Window, resolve_window, window_from_events

log = logging.getLogger(__name__)


def refresh_window(
    params: dict | None,
    triggering_asset_events=None,
    interval=(None, None),
    lookback_days: int | None = None,
) -> Window:
    """The days a refresh rebuilds: explicit params, as given; else the union of the windows the
    triggering raw assets announced, which already reach `lookback_days` back (a scheduled
    landing re-lands them, late rows included); else the data interval's days extended back by
    `lookback_days` (default: `settings.lookback_days`), as a landing would cover them."""
    if params and params.get("window_start") and params.get("window_end"):
        return resolve_window(params, None, None)
    extras = [
        event.extra for events in (triggering_asset_events or {}).values() for event in events
    ]
    if extras:
        return window_from_events(extras)
    if lookback_days is None:
        from include.cryptodw.settings import load_settings

        lookback_days = load_settings().lookback_days
    return resolve_window(None, *interval, lookback_days=lookback_days)


def build_staging(settings: Settings, window: Window) -> int:
    return len(run_dbt(settings, "build", STAGING_SELECTOR, window))


def build_marts(settings: Settings, window: Window) -> int:
    return len(run_dbt(settings, "build", DOWNSTREAM_SELECTOR, window))


def validate_layer(settings: Settings, layer: str, window: Window) -> int:
    from include.cryptodw.quality.runner import validate_warehouse_layer

    summaries = validate_warehouse_layer(settings.warehouse_path, layer, window.start, window.end)
    return len(summaries)


def publish_snapshot(settings: Settings, run_id: str | None = None) -> Published:
    return publish(settings, snapshot_id=_safe_snapshot_id(run_id) if run_id else None)


def generate_docs(settings: Settings) -> Path:
    """The dbt docs site for analysts (models, columns, tests, lineage, the catalog)."""
    run_dbt(settings, "docs generate", target_dir=settings.dbt_docs_dir)
    return settings.dbt_docs_dir / "index.html"


def write_brief(settings: Settings, window: Window) -> Path:
    """The daily brief of the window's last day in the published marts (the refresh's last
    step); returns the HTML report's path."""
    from include.cryptodw.brief import write_brief as write

    last_day = window.end - timedelta(days=1)
    return write(settings, on_or_before=last_day).html_path


def _safe_snapshot_id(run_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in run_id)[:80]


STEPS = {
    "build_staging": build_staging,
    "validate_staging": lambda settings, window: validate_layer(settings, "staging", window),
    "build_marts": build_marts,
    "validate_marts": lambda settings, window: validate_layer(settings, "marts", window),
    "write_brief": lambda settings, window: str(write_brief(settings, window)),
}


def run_step(step: str, window: dict) -> int | str:
    """Run one refresh step for a window given as `{"window_start", "window_end"}` (XCom)."""
    from include.cryptodw.settings import load_settings

    return STEPS[step](load_settings(), Window.parse(window["window_start"], window["window_end"]))


def build_and_gate(settings: Settings, window: Window) -> None:
    """Build and gate both layers for a window, without publishing (a backfill chunk)."""
    build_staging(settings, window)
    validate_layer(settings, "staging", window)
    build_marts(settings, window)
    validate_layer(settings, "marts", window)


def run_refresh(settings: Settings, window: Window) -> Published:
    """The whole refresh in one call (CLI, tests); the DAG runs the same steps as tasks."""
    build_and_gate(settings, window)
    return publish_snapshot(settings)
