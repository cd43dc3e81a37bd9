"""The offline exchanges: a seeded market model and what Binance, Bybit and OKX publish of it.

`simulate()` runs a preset over a window of UTC days and writes, under the replay root, the
files a recorder or archive would hold (Binance's archive zips; each venue's recorded
liquidation websocket), and the ground truth per venue under the truth root.
`simulated_exchange()` serves every venue's REST endpoints the connectors use from that truth.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from include.cryptodw.simulator.bybit_api import SimulatedBybitApi
from include.cryptodw.simulator.exchange import SimulatedBinanceApi, SimulatedExchange
from include.cryptodw.simulator.market import MarketDay, MarketSimulation
from include.cryptodw.simulator.okx_api import SimulatedOkxApi
from include.cryptodw.simulator.presets import VENUES, SymbolSpec, get_preset, resolve_specs
from include.cryptodw.simulator.streams import VENUE_STREAMS
from include.cryptodw.simulator.truth import spec_record, write_manifest
from include.cryptodw.simulator.writers import (
    BinanceArchiveWriter,
    ParallelWriters,
    StreamsWriter,
    TruthWriter,
    peak_memory_mb,
)

log = logging.getLogger(__name__)

__all__ = [
    "VENUES",
    "SimulatedBinanceApi",
    "SimulatedBybitApi",
    "SimulatedExchange",
    "SimulatedOkxApi",
    "SimulationReport",
    "peak_memory_mb",
    "simulate",
    "simulated_exchange",
]


@dataclass(frozen=True)
class SimulationReport:
    """What `simulate` wrote: a summary for logs, the CLI and tests."""

    preset: str
    start: date
    end: date
    seed: int
    symbols: tuple[str, ...]
    venues: tuple[str, ...]
    days: int
    liquidations: int  # forced orders generated on every venue (truth)
    pushed: int  # of which the venues' websocket streams delivered
    liquidated_usd: float  # notional of all forced orders, every venue
    files_written: int
    seconds: float  # wall-clock generation time
    peak_memory_mb: float  # peak resident memory: this process so far plus each writer's


def simulate(
    preset: str,
    start: date,
    end: date,
    *,
    replay_root: Path,
    truth_root: Path,
    symbols: tuple[str, ...],
    seed: int = 7,
    venues: tuple[str, ...] = VENUES,
) -> SimulationReport:
    """Simulate `preset` over `[start, end)` and write what `venues` publish plus the truth.

    The venues share one market (`SymbolSpec.venue_shares`, renormalised over `venues`).
    Deterministic in (preset, window, symbols, seed, venues): a rerun rewrites identical bytes;
    Binance's files from `venues=("binance",)` are those of the Binance-only simulator.
    """
    started = time.perf_counter()
    specs = resolve_specs(symbols)
    model = MarketSimulation(get_preset(preset), start, end, specs, seed, venues)
    venues = tuple(model.contracts)
    replay_root, truth_root = Path(replay_root), Path(truth_root)
    writers = [TruthWriter(truth_root, venues)]
    if any(venue in VENUE_STREAMS for venue in venues):
        writers.append(StreamsWriter(replay_root, specs, venues))
    if "binance" in venues:
        writers.append(BinanceArchiveWriter(replay_root, specs, start, end))
    totals = _Totals()
    with ParallelWriters(writers) as parallel:
        for market_day in model.days():
            parallel.write(market_day)
            totals.add(market_day, specs)
        files, writers_peak_mb = parallel.finish()
    write_manifest(
        truth_root,
        {
            "preset": preset,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "seed": seed,
            "specs": [spec_record(s) for s in specs],
            "venues": {v: [c.record() for c in model.contracts[v]] for v in venues},
        },
    )
    report = SimulationReport(
        preset=preset,
        start=start,
        end=end,
        seed=seed,
        symbols=tuple(s.symbol for s in specs),
        venues=venues,
        days=totals.days,
        liquidations=totals.liquidations,
        pushed=totals.pushed,
        liquidated_usd=totals.liquidated_usd,
        files_written=files + 1,  # and the manifest
        seconds=time.perf_counter() - started,
        peak_memory_mb=peak_memory_mb() + writers_peak_mb,
    )
    log.info("simulation %s %s..%s done: %s", preset, start, end, report)
    return report


@dataclass
class _Totals:
    days: int = 0
    liquidations: int = 0
    pushed: int = 0
    liquidated_usd: float = 0.0

    def add(self, market_day: MarketDay, specs: tuple[SymbolSpec, ...]) -> None:
        self.days += 1
        for venue, venue_day in market_day.venues.items():
            liq = venue_day.liquidations
            day_usd = float(liq.notional_usd(specs).sum())
            self.liquidations += len(liq)
            self.pushed += int(liq.pushed.sum())
            self.liquidated_usd += day_usd
            log.info(
                "simulated %s (%s) on %s: %d forced orders (%d pushed), $%.1fM liquidated",
                market_day.day,
                market_day.phase,
                venue,
                len(liq),
                int(liq.pushed.sum()),
                day_usd / 1e6,
            )


def simulated_exchange(truth_root: Path, replay_root: Path) -> SimulatedExchange:
    """Every venue of the market last simulated into `truth_root`, routed by host: REST from
    the truth, Binance's archive files (``data.binance.vision``) from `replay_root`."""
    return SimulatedExchange.from_truth(Path(truth_root), Path(replay_root))
