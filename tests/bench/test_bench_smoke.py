"""The benchmark runs end to end on the tiny size and dbt, the floor and pandas agree.

Slow (every step starts dbt in a fresh process, about 15 s each on 2 cores): marked `slow`.
"""

from __future__ import annotations

import logging
import os
import signal

import pytest

from bench import run as bench_run
from bench.measure import Measured, StepDied, in_child
from bench.run import (
    RELATIVE_TOLERANCE,
    FailedStep,
    FiguresDisagree,
    Row,
    _floor_row,
    _peer_row,
    check_agreement,
    format_table,
    rows_logged,
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


def test_tiny_benchmark_prints_every_row(tmp_path, caplog, monkeypatch):
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

    # stopped before the pandas peer, the run resumes from its log and measures only the peer
    stopped = "\n".join(logged[:-2])
    earlier = rows_logged(stopped)
    assert earlier.reused() == ["rebuild", "incremental", "landing", "BI"]
    for measured_already in ("full_rebuild", "incremental", "landing", "bi_latency"):
        monkeypatch.setattr(bench_run, measured_already, _must_not_run)
    resumed = run(SIZES["tiny"], tmp_path / "bench", bi_rounds=2, earlier=earlier)
    assert [row.step for row in resumed] == steps
    assert [*resumed[:3], *resumed[5:]] == list(earlier.rows)
    assert resumed[4].met is True  # pandas agrees with the warehouse the first run left


def _must_not_run(*args) -> None:
    raise AssertionError("a step the earlier run measured was measured again")


def test_a_logged_row_reads_back_as_it_printed():
    rows = [
        Row("full rebuild: dbt build vs floor SQL", "2051.08 s", "1080.49 s", 1.9, "t", True, "5"),
        Row("dbt start-up (dbt parse)", "2.77 s", "", None, "", None, "225"),
        Row("landing 9 rows (1 day, 2 symbols)", "1 rows/s", "3 rows/s", 0.02, ">= 0.5", False, ""),
    ]
    lines = [f"\r 99% ▕█▏ INFO bench: measured: {' | '.join(row.cells())}" for row in rows]
    log = "\n".join(lines)
    assert rows_logged(log).rows == tuple(rows)
    # a step counts as measured only with all its rows: BI has two, here only one
    only_alone = rows_logged("measured: BI: alone | p95 9 ms | p50 1 ms |  | t | yes | 1")
    assert only_alone.of("BI") == []
    assert only_alone.reused() == []


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
