"""Run one benchmark step in a fresh child process and measure its wall time and peak memory.

A fresh process per step means the peak resident set size (`ru_maxrss`) belongs to that step
alone, DuckDB's native allocations included, and no step profits from another's warm caches
inside the interpreter (the OS page cache is shared, as on a real machine).
"""

from __future__ import annotations

import math
import multiprocessing
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any


class StepDied(RuntimeError):
    """The step's process died before returning, e.g. killed by the kernel's OOM killer."""


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_mb: float
    value: Any


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(function, args: tuple) -> Measured:
    started = time.perf_counter()
    value = function(*args)
    return Measured(time.perf_counter() - started, peak_rss_mb(), value)


def in_child(function, *args) -> Measured:
    """Call `function(*args)` in a new spawned process; it and its args must be picklable.
    Raises `StepDied` when the process dies without an answer (its exception, if it raised
    one, is raised as is)."""
    context = multiprocessing.get_context("spawn")
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        try:
            return pool.submit(_timed, function, args).result()
        except BrokenProcessPool:
            raise StepDied(
                f"{function.__name__} died after {time.perf_counter() - started:.0f} s without "
                "an answer (killed by the OOM killer? see the kernel log)"
            ) from None


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (share in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(share * len(ordered))) - 1]
