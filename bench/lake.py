"""One simulated raw lake per benchmark size, generated once and kept between runs.

Generating a lake goes through the real path (simulator → connector → raw suite → lake
writer), which takes minutes for the big sizes, so each size's lake is cached under
`<data dir>/bench/<size>/` and reused while its recipe (`lake.json`) is unchanged. Delete that
directory to regenerate it.

Generation resumes where it stopped (`progress.json`): the simulation is kept once it has
finished, and each calendar month once it has landed, so an interrupted run of the big
sizes (hours on two cores) loses at most the months under way.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import date
from pathlib import Path

from bench.sizes import Size
from include.cryptodw.assets import VENUES
from include.cryptodw.offline import prepare_offline_exchange
from include.cryptodw.pipeline import land_window
from include.cryptodw.settings import Settings, load_settings
from include.cryptodw.transport import atomic_write_bytes
from include.cryptodw.windows import Window

log = logging.getLogger(__name__)

RECIPE_FILE = "lake.json"
PROGRESS_FILE = "progress.json"
# Months landed at once, one process each: landing parses in Python, one core per process.
LANDING_PROCESSES = os.cpu_count() or 1


def lake_settings(data_dir: Path, size: Size) -> Settings:
    """Settings of a size's lake: every venue wired end to end, simulated, the size's symbols;
    DuckDB's memory cap from the environment (CRYPTODW_DUCKDB_MEMORY_LIMIT), as a run's."""
    return Settings(
        data_dir=data_dir,
        source_mode="simulated",
        symbols=size.symbol_list,
        venues=VENUES,
        duckdb_memory_limit=load_settings().duckdb_memory_limit,
    )


def recipe(size: Size) -> dict:
    return {
        "preset": size.preset,
        "venues": list(VENUES),
        "symbols": list(size.symbol_list),
        "window_start": size.lake_window.start.isoformat(),
        "window_end": size.lake_window.end.isoformat(),
    }


def ensure_lake(cache_root: Path, size: Size) -> tuple[Settings, float | None]:
    """The size's lake settings; generates the lake unless a matching one is cached, resuming
    a generation of the same recipe that stopped part way.

    Returns the settings and the seconds generation took (None when the cache was reused).
    """
    data_dir = cache_root / size.name
    settings = lake_settings(data_dir, size)
    progress = _Progress(data_dir)
    if progress.recipe() != recipe(size):
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
        progress.start(recipe(size))
    elif progress.complete():
        return settings, None
    started = time.perf_counter()
    if not progress.simulated():
        prepare_offline_exchange(settings, size.preset, size.lake_window)
        progress.record(simulated=True)
    months = [m for m in calendar_months(size.lake_window) if not progress.landed(m)]
    land_months(settings, months, on_landed=lambda month: progress.record(landed=month))
    progress.record(complete=True)
    return settings, time.perf_counter() - started


class _Progress:
    """What a lake's generation has finished: `lake.json` names the recipe, `progress.json`
    the finished steps (each rewritten whole, atomically)."""

    def __init__(self, data_dir: Path) -> None:
        self.recipe_file = data_dir / RECIPE_FILE
        self.progress_file = data_dir / PROGRESS_FILE

    def recipe(self) -> dict | None:
        return json.loads(self.recipe_file.read_text()) if self.recipe_file.exists() else None

    def start(self, lake_recipe: dict) -> None:
        atomic_write_bytes(self.recipe_file, json.dumps(lake_recipe, indent=2).encode())
        self._write({"simulated": False, "landed": [], "complete": False})

    def _state(self) -> dict:
        if not self.progress_file.exists():  # a lake cached before progress was kept
            return {"simulated": True, "landed": [], "complete": True}
        return json.loads(self.progress_file.read_text())

    def _write(self, state: dict) -> None:
        atomic_write_bytes(self.progress_file, json.dumps(state, indent=2).encode())

    def simulated(self) -> bool:
        return self._state()["simulated"]

    def landed(self, month: Window) -> bool:
        return month.start.isoformat() in self._state()["landed"]

    def complete(self) -> bool:
        return self._state()["complete"]

    def record(
        self, *, simulated: bool = False, landed: Window | None = None, complete: bool = False
    ) -> None:
        state = self._state()
        state["simulated"] |= simulated
        state["complete"] |= complete
        if landed is not None:
            state["landed"] = sorted({*state["landed"], landed.start.isoformat()})
        self._write(state)


def land_months(
    settings: Settings,
    months: list[Window],
    on_landed: Callable[[Window], None] = lambda month: None,
) -> None:
    """Land each month through the real path, `LANDING_PROCESSES` months at a time, calling
    `on_landed` for each as it finishes.

    Months write disjoint day partitions, manifests and quarantine files, so they land
    independently. The one shared file is the instruments snapshot, which every month lands
    on the exchange's clock day with the same content (a sequential run rewrites it too);
    each write is atomic. The first failure is raised once the months under way finish.
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(LANDING_PROCESSES, mp_context=context) as pool:
        futures = {pool.submit(land_window, settings, month): month for month in months}
        try:
            for future in as_completed(futures):
                future.result()
                on_landed(futures[future])
                log.info("landed %s .. %s", futures[future].start, futures[future].end)
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise


def calendar_months(window: Window) -> list[Window]:
    """`window` cut at month starts: landing a month at a time bounds memory, and each piece
    reads whole monthly archive files."""
    pieces, start = [], window.start
    while start < window.end:
        next_month = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        pieces.append(Window(start, min(next_month, window.end)))
        start = next_month
    return pieces
