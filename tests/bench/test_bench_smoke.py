"""The benchmark runs end to end on the tiny size and dbt, the floor and pandas agree.

Slow (every step starts dbt in a fresh process, about 15 s each on 2 cores): marked `slow`.
"""

from __future__ import annotations

import logging
import os
import signal

import pytest

from bench.measure import Measured, StepDied, in_child
from bench.run import (
    RELATIVE_TOLERANCE,
    FailedStep,
    FiguresDisagree,
    _floor_row,
    _peer_row,
    check_agreement,
    format_table,
    run,
)
from bench.sizes import SIZES

pytestmark = [pytest.mark.slow, pytest.mark.bench]

EXPECTED_STEPS = (
    "dbt start-up",
    "full rebuild: dbt build vs floor SQL",
    "full rebuild: dbt build minus start-up",
    "full rebuild: pandas peer vs dbt build",
    "figures agree",
    "incremental +1 day",
    "landing",
    "BI: ",
    "BI: same, 8 readers during refresh+publish",
)


def test_tiny_benchmark_prints_every_row(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="bench")
    rows = run(SIZES["tiny"], tmp_path / "bench", bi_rounds=2)

    steps = [row.step for row in rows]
    assert len(steps) == len(EXPECTED_STEPS)
    for step, expected in zip(steps, EXPECTED_STEPS, strict=True):
        assert step.startswith(expected)
    agreement = next(row for row in rows if row.step.startswith("figures agree"))
    assert agreement.met is True
    assert "liqs" in agreement.ours
    table = format_table(rows)
    assert all(step in table for step in steps)
    # every row is also logged once when measured (the pandas peer last, after BI)
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("measured: ")]
    logged_steps = [message.split(" | ")[0].removeprefix("measured: ") for message in logged]
    assert sorted(logged_steps) == sorted(steps)
    assert logged_steps[-2:] == steps[3:5]


def test_agreement_check_rejects_a_different_total():
    marts = {"liquidations_daily": {"rows": 8.0, "total_liquidations_usd": 1_000_000.0}}
    off = {"liquidations_daily": {"rows": 8.0, "total_liquidations_usd": 1_000_000.0 * (1 + 1e-6)}}
    nearly = 1_000_000.0 * (1 + RELATIVE_TOLERANCE / 10)
    close = {"liquidations_daily": {"rows": 8.0, "total_liquidations_usd": nearly}}

    check_agreement({"dbt": marts, "floor": close, "pandas": marts})
    with pytest.raises(FiguresDisagree, match="floor liquidations_daily.total_liquidations_usd"):
        check_agreement({"dbt": marts, "floor": off, "pandas": marts})
    # a peer that died (pandas out of memory at 2y) is left out, the others still checked
    check_agreement({"dbt": marts, "floor": close})
    with pytest.raises(FiguresDisagree, match="floor"):
        check_agreement({"dbt": marts, "floor": off})


def _killed_like_the_oom_killer_does() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_step_whose_process_dies_is_reported_not_fatal():
    """A step killed from outside (the OOM killer's SIGKILL) raises StepDied, which the
    rebuild step turns into a row that says so instead of ending the run."""
    with pytest.raises(StepDied, match="_killed_like_the_oom_killer_does died after"):
        in_child(_killed_like_the_oom_killer_does)
    build = Measured(10.0, 900.0, None)
    died = _peer_row(build, None)
    assert (died.other, died.met, died.ratio) == ("died (memory?)", False, None)
    assert _peer_row(build, Measured(60.0, 5000.0, None)).ratio == 6.0


def test_a_floor_that_failed_is_a_row_that_says_so():
    """At 2y the floor ran out of memory under the cap: dbt's time is still reported."""
    build = Measured(1700.0, 2800.0, None)
    failed = _floor_row("rebuild", build, FailedStep("failed: OutOfMemoryException"), "dbt <= 2")
    assert failed.cells() == [
        "rebuild",
        "1700.00 s",
        "failed: OutOfMemoryException",
        "",
        "dbt <= 2",
        "NO",
        "2800",
    ]
    finished = _floor_row("rebuild", build, Measured(1000.0, 1900.0, None), "dbt <= 2")
    assert (finished.ratio, finished.met, finished.peak_mb) == (1.7, True, "2800 / 1900")
