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
    from include.cryptodw.pipeline import CLOCK_FILE
    from include.cryptodw.simulator import simulate, simulated_exchange

    report = simulate(
        preset,
        window.start,
        window.end,
        replay_root=settings.replay_dir,
        truth_root=settings.data_dir / "truth",
        symbols=settings.symbols,
        venues=settings.venues,
        seed=seed,
    )
    recorder = RecordingTransport(
        files=ReplayTransport(settings.replay_dir),
        api=simulated_exchange(settings.data_dir / "truth", settings.replay_dir),
    )
    # The recording happens the day after the window's last day; replays keep that clock.
    clock = {"as_of": window.end.isoformat()}
    (settings.replay_dir / CLOCK_FILE).write_text(json.dumps(clock))
    record_rest_pages(settings, recorder, window)
    log.info("offline exchange ready under %s", settings.replay_dir)
    return report


def record_rest_pages(settings: Settings, recorder: Transport, window: Window) -> None:
    """Fetch every slice the pipeline will land, so each REST page is retained for replay."""
    from include.cryptodw.pipeline import fetch_slice, plan_slices
    from include.cryptodw.sources.venues import venue

    for venue_name in settings.venues:
        connector = venue(venue_name, settings.symbols)
        for dataset, slices in plan_slices(venue_name, window.as_dict(), None, None, settings).items():
            for slice_ in slices:
                fetch_slice(
                    settings, connector, recorder, dataset, window,
                    slice_.get("symbol"), slice_.get("interval"),
                )
