"""One simulated raw lake per benchmark size, generated once and kept between runs.

Generating a lake goes through the real path (simulator → connector → raw suite → lake
writer), which takes minutes for the big sizes, so each size's lake is cached under
`<data dir>/bench/<size>/` and reused while its recipe (`lake.json`) is unchanged. Delete that
directory to regenerate it.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

from bench.sizes import Size
from include.cryptodw.assets import VENUES
from include.cryptodw.offline import prepare_offline_exchange
from include.cryptodw.pipeline import land_window
from include.cryptodw.settings import Settings
from include.cryptodw.windows import Window

log = logging.getLogger(__name__)

PRESET = "crash"
RECIPE_FILE = "lake.json"
# Months landed at once, one process each: landing parses in Python, one core per process.
LANDING_PROCESSES = os.cpu_count() or 1


def lake_settings(data_dir: Path, size: Size) -> Settings:
    """Settings of a size's lake: every venue wired end to end, simulated, the size's symbols."""
    return Settings(
        data_dir=data_dir, source_mode="simulated", symbols=size.symbol_list, venues=VENUES
    )


def recipe(size: Size) -> dict:
    return {
        "preset": PRESET,
        "venues": list(VENUES),
        "symbols": list(size.symbol_list),
        "window_start": size.lake_window.start.isoformat(),
        "window_end": size.lake_window.end.isoformat(),
    }


def ensure_lake(cache_root: Path, size: Size) -> tuple[Settings, float | None]:
    """The size's lake settings; generates the lake unless a matching one is cached.

    Returns the settings and the seconds generation took (None when the cache was reused).
    """
    data_dir = cache_root / size.name
    marker = data_dir / RECIPE_FILE
    if marker.exists() and json.loads(marker.read_text()) == recipe(size):
        return lake_settings(data_dir, size), None
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    settings = lake_settings(data_dir, size)
    started = time.perf_counter()
    prepare_offline_exchange(settings, PRESET, size.lake_window)
    land_months(settings, calendar_months(size.lake_window))
    marker.write_text(json.dumps(recipe(size), indent=2))
    return settings, time.perf_counter() - started


def land_months(settings: Settings, months: list[Window]) -> None:
    """Land each month through the real path, `LANDING_PROCESSES` months at a time.

    Months write disjoint day partitions, manifests and quarantine files, so they land
    independently. The one shared file is the instruments snapshot, which every month lands
    on the exchange's clock day with the same content (a sequential run rewrites it too);
    each write is atomic. The first failure is raised once the months under way finish.
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(LANDING_PROCESSES, mp_context=context) as pool:
        landed = pool.map(land_window, [settings] * len(months), months)
        for month, _ in zip(months, landed, strict=True):
            log.info("landed %s .. %s", month.start, month.end)


def calendar_months(window: Window) -> list[Window]:
    """`window` cut at month starts: landing a month at a time bounds memory, and each piece
    reads whole monthly archive files."""
    pieces, start = [], window.start
    while start < window.end:
        next_month = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        pieces.append(Window(start, min(next_month, window.end)))
        start = next_month
    return pieces
