"""The benchmark runs end to end on the tiny size and dbt, the floor and pandas agree.

Slow (every step starts dbt in a fresh process, about 15 s each on 2 cores): marked `slow`.
"""

from __future__ import annotations

import logging

import pytest

from bench.run import RELATIVE_TOLERANCE, FiguresDisagree, check_agreement, format_table, run
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
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("measured: ")]
    assert [message.split(" | ")[0] for message in logged] == [f"measured: {s}" for s in steps]


def test_agreement_check_rejects_a_different_total():
    marts = {"liquidations_daily": {"rows": 8.0, "total_liquidations_usd": 1_000_000.0}}
    off = {"liquidations_daily": {"rows": 8.0, "total_liquidations_usd": 1_000_000.0 * (1 + 1e-6)}}
    nearly = 1_000_000.0 * (1 + RELATIVE_TOLERANCE / 10)
    close = {"liquidations_daily": {"rows": 8.0, "total_liquidations_usd": nearly}}

    check_agreement({"dbt": marts, "floor": close, "pandas": marts})
    with pytest.raises(FiguresDisagree, match="floor liquidations_daily.total_liquidations_usd"):
        check_agreement({"dbt": marts, "floor": off, "pandas": marts})
