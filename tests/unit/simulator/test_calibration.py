"""The simulator stays inside the bands of its calibration report (docs/calibration.md).

`calibrate()` runs `calm` over two years and `crash` over its month, market model only (no
payloads), and compares them with the real samples under `<shared>/realdata`. The drift test
runs `calm` on several seeds twice, with and without the liquidations' price impact: the
exogenous shocks have no drift by construction, so the difference is the drift the market's
own mechanics add.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date, timedelta

import numpy as np
import pytest

from include.cryptodw.simulator.calibration import calibrate, report_markdown
from include.cryptodw.simulator.market import MarketSimulation
from include.cryptodw.simulator.presets import VENUES, get_preset, resolve_specs

DRIFT_SEEDS = range(1, 11)
DRIFT_START, DRIFT_DAYS = date(2024, 1, 1), 45


@pytest.fixture(scope="module")
def calibration(realdata):
    return calibrate(realdata)


def test_every_banded_check_is_in_its_band(calibration):
    failed = [
        f"{c.group}: {c.metric} = {c.simulated:.4g}, band [{c.low:.4g}, {c.high:.4g}]"
        for c in calibration.failed
    ]
    assert not failed, "\n".join(failed)
    groups = {check.group for check in calibration.checks if check.banded}
    assert groups == {"returns", "liquidations", "funding", "venues", "crash"}


def test_report_has_a_row_per_check_and_the_verdict(calibration):
    report = report_markdown(calibration)
    banded = sum(check.banded for check in calibration.checks)
    assert f"**{banded} banded checks: all pass.**" in report
    for check in calibration.checks:
        assert f"| {check.metric} |" in report


def _calm_btc(seed: int, impact: bool) -> tuple[float, float]:
    """BTC's log return over the window and its open interest (USDT) at the end over the start."""
    preset = get_preset("calm")
    if not impact:
        mechanics = dataclasses.replace(preset.mechanics, impact=0.0)
        preset = dataclasses.replace(preset, mechanics=mechanics)
    spec = resolve_specs(("BTCUSDT",))[0]
    end = DRIFT_START + timedelta(days=DRIFT_DAYS)
    last = list(MarketSimulation(preset, DRIFT_START, end, (spec,), seed).summaries())[-1]
    open_interest = last.open_interest_base[0] * last.close[0]
    return (
        math.log(last.close[0] / spec.start_price),
        open_interest / (spec.open_interest_base * spec.start_price),
    )


def test_calm_market_has_no_systematic_drift():
    """No exogenous drift, and the traders' own flows add none: over ten seeds, the
    liquidations' price impact moves BTC by well under 1 % in six weeks on average, and open
    interest neither explodes nor drains."""
    assert all(phase.drift == 0.0 for phase in get_preset("calm").phases)
    runs = np.array([(*_calm_btc(seed, True), _calm_btc(seed, False)[0]) for seed in DRIFT_SEEDS])
    returns, open_interest, exogenous = runs.T
    added = returns - exogenous
    assert abs(added.mean()) < 0.01, added
    assert abs(returns.mean()) < 3 * returns.std(ddof=1) / math.sqrt(len(returns)), returns
    assert 0.2 < (returns > 0).mean() < 0.8, returns
    assert ((open_interest > 0.7) & (open_interest < 1.4)).all(), open_interest


def test_summaries_are_the_market_the_venues_publish():
    """The fast path calibration uses is the very market `days()` emits: same prices, same
    forced orders of BTC on every venue."""
    specs = resolve_specs(("BTCUSDT", "ETHUSDT"))
    start, end = date(2026, 2, 3), date(2026, 2, 6)

    def model() -> MarketSimulation:
        return MarketSimulation(get_preset("crash"), start, end, specs, 7, VENUES)

    for summary, day in zip(model().summaries(leader_orders=True), model().days(), strict=True):
        binance = day.venues["binance"]
        for s, spec in enumerate(specs):
            close = binance.bars[spec.symbol].close[-1] * 10.0**-spec.price_decimals
            assert close == pytest.approx(summary.close[s], abs=spec.tick)
        for venue, venue_day in day.venues.items():
            btc = venue_day.liquidations.symbol_index == 0
            mine = summary.liquidations[venue]
            assert np.array_equal(mine.trade_ms, venue_day.liquidations.trade_ms[btc])
            assert np.array_equal(mine.qty_units, venue_day.liquidations.qty_units[btc])
        assert len(summary.liquidations["binance"]) > 0
