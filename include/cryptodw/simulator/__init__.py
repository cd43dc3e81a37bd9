"""The offline Binance: a seeded market model, what Binance would publish of it, and its REST API.

`simulate()` runs a preset over a window of UTC days and writes archive files and recorded
websocket segments under the replay root, and the ground truth under the truth root.
`simulated_exchange()` serves the REST endpoints the connector uses from that truth.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from include.cryptodw.simulator.emitter import BinanceEmitter, spec_record, write_manifest
from include.cryptodw.simulator.exchange import SimulatedBinanceApi
from include.cryptodw.simulator.market import MarketSimulation
from include.cryptodw.simulator.presets import get_preset, resolve_specs

log = logging.getLogger(__name__)

__all__ = ["SimulationReport", "SimulatedBinanceApi", "simulate", "simulated_exchange"]


@dataclass(frozen=True)
class SimulationReport:
    """What `simulate` wrote: a summary for logs, the CLI and tests."""

    preset: str
    start: date
    end: date
    seed: int
    symbols: tuple[str, ...]
    days: int
    liquidations: int  # forced orders generated (truth)
    pushed: int  # of which the websocket stream delivered
    liquidated_usd: float  # notional of all forced orders
    files_written: int


def simulate(
    preset: str,
    start: date,
    end: date,
    *,
    replay_root: Path,
    truth_root: Path,
    symbols: tuple[str, ...],
    seed: int = 7,
) -> SimulationReport:
    """Simulate `preset` over `[start, end)` and write what Binance publishes plus the truth.

    Deterministic in (preset, window, symbols, seed): a rerun rewrites identical bytes.
    """
    specs = resolve_specs(symbols)
    model = MarketSimulation(get_preset(preset), start, end, specs, seed)
    emitter = BinanceEmitter(Path(replay_root), Path(truth_root), specs, start, end)
    days = liquidations = pushed = 0
    liquidated_usd = 0.0
    for market_day in model.days():
        emitter.emit(market_day)
        liq = market_day.liquidations
        day_usd = float(liq.notional_usd(specs).sum())
        days, liquidations, pushed = (
            days + 1,
            liquidations + len(liq),
            pushed + int(liq.pushed.sum()),
        )
        liquidated_usd += day_usd
        log.info(
            "simulated %s (%s): %d forced orders (%d pushed), $%.1fM liquidated",
            market_day.day,
            market_day.phase,
            len(liq),
            int(liq.pushed.sum()),
            day_usd / 1e6,
        )
    emitter.finish()
    write_manifest(
        Path(truth_root),
        {
            "preset": preset,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "seed": seed,
            "specs": [spec_record(s) for s in specs],
        },
    )
    report = SimulationReport(
        preset=preset,
        start=start,
        end=end,
        seed=seed,
        symbols=tuple(s.symbol for s in specs),
        days=days,
        liquidations=liquidations,
        pushed=pushed,
        liquidated_usd=liquidated_usd,
        files_written=emitter.files_written + 1,
    )
    log.info("simulation %s %s..%s done: %s", preset, start, end, report)
    return report


def simulated_exchange(truth_root: Path, replay_root: Path) -> SimulatedBinanceApi:
    """Binance for the market last simulated into `truth_root`: REST from the truth, archive
    files (``data.binance.vision``) from what `simulate` wrote under `replay_root`."""
    return SimulatedBinanceApi.from_truth(Path(truth_root), archive_root=Path(replay_root))
