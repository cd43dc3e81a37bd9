"""Prepare the offline exchange: simulate a market and retain its payloads for replay.

The simulator writes what Binance publishes as files (archive zips, recorded websocket
segments) and serves its REST API in process. Recording then runs the real connector over the
window through a transport that answers archive URLs from those files and REST URLs from the
simulated API, retaining every REST page exactly as a live run retains real ones. Afterwards
the pipeline replays the window with no network and no simulator: only the transport differs
from a live run.
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


@dataclass
class RecordingTransport:
    """Archive URLs from retained files; REST URLs from `api`, retaining each page."""

    files: ReplayTransport
    api: Transport

    def get(self, url: str, params: Params | None = None) -> Response:
        if urlsplit(url).netloc == ARCHIVE_HOST:
            return self.files.get(url, params)
        response = self.api.get(url, params)
        retain(self.files.root, response)
        return response


def prepare_offline_exchange(settings: Settings, preset: str, window: Window, seed: int = 7):
    """Simulate `preset` over `window` and retain every payload the pipeline will request."""
    from include.cryptodw.assets import KLINE_INTERVALS
    from include.cryptodw.pipeline import CLOCK_FILE, fetch_slice
    from include.cryptodw.simulator import simulate, simulated_exchange

    report = simulate(
        preset,
        window.start,
        window.end,
        replay_root=settings.replay_dir,
        truth_root=settings.data_dir / "truth",
        symbols=settings.symbols,
        seed=seed,
    )
    recorder = RecordingTransport(
        files=ReplayTransport(settings.replay_dir),
        api=simulated_exchange(settings.data_dir / "truth", settings.replay_dir),
    )
    as_of = window.end  # the recording happens the day after the window's last day
    for symbol in settings.symbols:
        for interval in KLINE_INTERVALS:
            fetch_slice(recorder, "klines", symbol, interval, window, as_of)
        fetch_slice(recorder, "open_interest", symbol, None, window, as_of)
        fetch_slice(recorder, "funding", symbol, None, window, as_of)
    (settings.replay_dir / CLOCK_FILE).write_text(json.dumps({"as_of": as_of.isoformat()}))
    log.info("offline exchange ready under %s", settings.replay_dir)
    return report
