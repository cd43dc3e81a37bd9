"""The offline exchange: a simulated market that answers like the venues' real APIs.

`prepare_offline_exchange` simulates a preset over a window and writes what the venues publish
as files (Binance archive zips, recorded websocket segments) plus the market's ground truth.
In `simulated` source mode the pipeline then talks to `simulated_transport`: archive URLs are
answered from those files and REST URLs by the simulated APIs, any window and any paging, and
every REST page is retained exactly as a live run retains real ones. The connectors, parsers,
suites and lake writer are the live ones; only the transport differs.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from include.cryptodw.settings import Settings
from include.cryptodw.transport import Params, ReplayTransport, Response, Transport, retain
from include.cryptodw.windows import Window

log = logging.getLogger(__name__)

ARCHIVE_HOST = "data.binance.vision"
CLOCK_FILE = "clock.json"


@dataclass
class RecordingTransport:
    """Archive URLs from the published files; REST URLs from `api`, retaining each page."""

    files: ReplayTransport
    api: Transport

    def get(self, url: str, params: Params | None = None) -> Response:
        if urlsplit(url).netloc == ARCHIVE_HOST:
            return self.files.get(url, params)
        response = self.api.get(url, params)
        retain(self.files.root, response)
        return response


def truth_dir(settings: Settings):
    return settings.data_dir / "truth"


def simulated_transport(settings: Settings) -> RecordingTransport:
    """The transport of `simulated` mode (needs `prepare_offline_exchange` first)."""
    from include.cryptodw.simulator import simulated_exchange

    if not (settings.replay_dir / CLOCK_FILE).exists():
        raise FileNotFoundError(
            f"no offline exchange under {settings.replay_dir}: run `make demo` or "
            "`python -m include.cryptodw.cli simulate --start D --end D` first"
        )
    return RecordingTransport(
        files=ReplayTransport(settings.replay_dir),
        api=simulated_exchange(truth_dir(settings), settings.replay_dir),
    )


def prepare_offline_exchange(settings: Settings, preset: str, window: Window, seed: int = 7):
    """Simulate `preset` over `window` for the configured venues and symbols.

    The offline exchange's clock stops the day after the window: that is "today" for every
    later run, so Binance's archive holds all but the last day, as it would in reality.
    """
    from include.cryptodw.simulator import simulate

    report = simulate(
        preset,
        window.start,
        window.end,
        replay_root=settings.replay_dir,
        truth_root=truth_dir(settings),
        symbols=settings.symbols,
        venues=settings.venues,
        seed=seed,
    )
    clock = {"as_of": window.end.isoformat(), "preset": preset, "seed": seed}
    (settings.replay_dir / CLOCK_FILE).write_text(json.dumps(clock))
    log.info("offline exchange ready under %s", settings.replay_dir)
    return report
