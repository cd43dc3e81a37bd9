"""A long simulation holds no more than a short one: days are published as they are simulated.

`simulate` keeps the market model's state and at most two days of output (the one being
published, the one being simulated); nothing grows with the window. The guard compares the
Python-heap peak (numpy arrays included) of a 3-day and a 12-day run of one symbol: anything
kept for the whole window would multiply it.
"""

from __future__ import annotations

import tracemalloc
from datetime import date, timedelta

from include.cryptodw.simulator import simulate

START = date(2026, 1, 1)


def _peak_mb(tmp_path, days: int) -> float:
    tracemalloc.start()
    try:
        simulate(
            "multiyear",
            START,
            START + timedelta(days=days),
            replay_root=tmp_path / f"{days}" / "replay",
            truth_root=tmp_path / f"{days}" / "truth",
            symbols=("BTCUSDT",),
            seed=5,
        )
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_the_window(tmp_path):
    _peak_mb(tmp_path, 1)  # imports and caches, not the simulation's
    short, long = _peak_mb(tmp_path, 3), _peak_mb(tmp_path, 12)
    assert long < 1.5 * short, f"12 days peaked at {long:.1f} MiB, 3 days at {short:.1f} MiB"
