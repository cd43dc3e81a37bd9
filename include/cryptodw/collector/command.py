"""Command line of the collector: which venues, where to write, how often to flush."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from include.cryptodw.collector.feeds import FEED_VENUES, build_feeds
from include.cryptodw.collector.runner import CollectorConfig, run_collector
from include.cryptodw.redaction import install_log_redaction
from include.cryptodw.settings import load_settings


def _venue_url(value: str) -> tuple[str, str]:
    venue, sep, url = value.partition("=")
    if not sep or venue not in FEED_VENUES or not url.startswith(("ws://", "wss://")):
        raise argparse.ArgumentTypeError(f"expected VENUE=ws(s)://..., VENUE in {FEED_VENUES}")
    return venue, url


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="collector",
        description="Record liquidation websockets into replay segments until SIGTERM/SIGINT.",
    )
    parser.add_argument(
        "--venues",
        default=",".join(FEED_VENUES),
        help=f"comma-separated, from {','.join(FEED_VENUES)} (default: all)",
    )
    parser.add_argument(
        "--symbols", help="Bybit allLiquidation symbols (default: CRYPTODW_SYMBOLS)"
    )
    parser.add_argument("--replay-root", type=Path, help="default: the settings' replay dir")
    parser.add_argument(
        "--flush-interval", type=float, default=60.0, help="seconds between flushes (60)"
    )
    parser.add_argument(
        "--url",
        type=_venue_url,
        action="append",
        default=[],
        metavar="VENUE=URL",
        help="override a venue's websocket URL (repeatable)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install_log_redaction()
    args = build_parser().parse_args(argv)
    settings = load_settings()
    venues = [v.strip().lower() for v in args.venues.split(",") if v.strip()]
    symbols = (
        [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
        if args.symbols
        else list(settings.symbols)
    )
    feeds = build_feeds(venues, symbols, dict(args.url))
    config = CollectorConfig(
        replay_root=args.replay_root or settings.replay_dir,
        flush_interval_s=args.flush_interval,
    )
    asyncio.run(run_collector(feeds, config))
    return 0
