"""What each venue's liquidation websocket needs: URL, subscription, keepalive, frame kinds.

A `Feed` is pure configuration plus a `classify` function that sorts every received text into

* DATA: written to the segments as received (also anything unrecognised or malformed: the
  connectors' parsers quarantine it later, so nothing is dropped here);
* ACK: the venue confirmed a subscription request;
* REJECT: the venue refused a subscription (or reported an error): the session ends;
* CONTROL: pongs and other service frames, logged and not written.

The CONTROL/ACK/REJECT rules are the ones the connectors use to skip control frames
(`binance._add_force_order`, `bybit._add_liquidation_message`, `okx._add_liquidation_message`),
so a segment never holds a frame the readers would not also skip.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from include.cryptodw.sources import binance, bybit, okx

# forceOrder is a "market" stream since Binance split its futures websocket hosts (the legacy
# wss://fstream.binance.com/ws/... URLs were retired on 2026-04-23; EXCHANGES.md, pitfall 19).
BINANCE_URL = "wss://fstream.binance.com/market/ws/!forceOrder@arr"
BYBIT_URL = "wss://stream.bybit.com/v5/public/linear"
OKX_URL = "wss://ws.okx.com:8443/ws/v5/public"

# Binance drops every connection after 24 h; reconnect on our own terms a little earlier.
BINANCE_MAX_CONNECTION_AGE_S = 23.5 * 3600
# Bybit asks for {"op":"ping"} every 20 s; OKX closes a connection silent for 30 s.
APP_PING_INTERVAL_S = 20.0
# Topics per Bybit subscribe request (the documented limit for spot; kept for all categories).
BYBIT_ARGS_PER_REQUEST = 10


class FrameKind(enum.Enum):
    DATA = "data"
    ACK = "ack"
    REJECT = "reject"
    CONTROL = "control"


Classifier = Callable[[str], tuple[FrameKind, str]]


@dataclass(frozen=True)
class Feed:
    """One venue's liquidation stream as the collector connects to it.

    `subscribe_frames` are sent right after connecting; the feed counts as subscribed once one
    ACK per frame arrived (at once when there are none: Binance subscribes by URL).
    `ping_frame` is an application-level ping sent every `ping_interval_s`; with it, a session
    that hears nothing for `ping_interval_s + pong_timeout_s` has timed out. Without it the
    websocket protocol's own ping/pong keeps the connection alive (`protocol_pings`).
    """

    venue: str
    stream: str
    url: str
    subscribe_frames: tuple[str, ...]
    classify: Classifier
    ping_frame: str | None = None
    protocol_pings: bool = False
    ping_interval_s: float = APP_PING_INTERVAL_S
    pong_timeout_s: float = 10.0
    max_connection_age_s: float | None = None


def _decoded(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def classify_binance(text: str) -> tuple[FrameKind, str]:
    """`{"result": ..., "id": ...}` answers a request; everything else is stream data."""
    message = _decoded(text)
    if isinstance(message, dict) and "result" in message and "id" in message:
        return FrameKind.CONTROL, text
    return FrameKind.DATA, ""


def classify_bybit(text: str) -> tuple[FrameKind, str]:
    """Frames with `op` and no `topic` are answers (subscribe acks, pongs); the rest is data."""
    message = _decoded(text)
    if not (isinstance(message, dict) and "op" in message and "topic" not in message):
        return FrameKind.DATA, ""
    if message.get("op") != "subscribe":
        return FrameKind.CONTROL, text
    if message.get("success") is True:
        return FrameKind.ACK, text
    return FrameKind.REJECT, f"subscribe refused: {message.get('ret_msg')!r}"


def classify_okx(text: str) -> tuple[FrameKind, str]:
    """`pong` and `event` frames are control frames (`error` ends the session); the rest is data."""
    if text.strip() == "pong":
        return FrameKind.CONTROL, text
    message = _decoded(text)
    event = message.get("event") if isinstance(message, dict) else None
    if event is None:
        return FrameKind.DATA, ""
    if event == "subscribe":
        return FrameKind.ACK, text
    if event == "error":
        return FrameKind.REJECT, f"error {message.get('code')!r}: {message.get('msg')!r}"
    return FrameKind.CONTROL, text  # notice (service upgrade ahead), channel-conn-count, ...


def binance_feed(url: str = BINANCE_URL) -> Feed:
    """All-market `forceOrder` snapshots; the URL is the subscription."""
    return Feed(
        venue=binance.VENUE,
        stream=binance.FORCE_ORDER_STREAM,
        url=url,
        subscribe_frames=(),
        classify=classify_binance,
        protocol_pings=True,
        max_connection_age_s=BINANCE_MAX_CONNECTION_AGE_S,
    )


def bybit_feed(symbols: Sequence[str], url: str = BYBIT_URL) -> Feed:
    """`allLiquidation.{symbol}` for each symbol (Bybit has no all-symbols topic)."""
    if not symbols:
        raise ValueError("bybit allLiquidation needs at least one symbol")
    topics = [f"{bybit.LIQUIDATION_STREAM}.{symbol.upper()}" for symbol in symbols]
    frames = tuple(
        json.dumps(
            {
                "req_id": f"liq-{start // BYBIT_ARGS_PER_REQUEST}",
                "op": "subscribe",
                "args": topics[start : start + BYBIT_ARGS_PER_REQUEST],
            }
        )
        for start in range(0, len(topics), BYBIT_ARGS_PER_REQUEST)
    )
    return Feed(
        venue=bybit.VENUE,
        stream=bybit.LIQUIDATION_STREAM,
        url=url,
        subscribe_frames=frames,
        classify=classify_bybit,
        ping_frame=json.dumps({"op": "ping"}),
    )


def okx_feed(url: str = OKX_URL) -> Feed:
    """`liquidation-orders` of every SWAP instrument."""
    arg = {"channel": okx.LIQUIDATION_STREAM, "instType": okx.INST_TYPE}
    return Feed(
        venue=okx.VENUE,
        stream=okx.LIQUIDATION_STREAM,
        url=url,
        subscribe_frames=(json.dumps({"op": "subscribe", "args": [arg]}),),
        classify=classify_okx,
        ping_frame="ping",
    )


FEED_VENUES = (binance.VENUE, bybit.VENUE, okx.VENUE)


def build_feeds(
    venues: Sequence[str], symbols: Sequence[str], urls: dict[str, str] | None = None
) -> list[Feed]:
    """The feeds of `venues`, with URLs overridden per venue by `urls` (tests, new routes)."""
    urls = urls or {}
    unknown = sorted(set(venues) - set(FEED_VENUES))
    if unknown:
        raise ValueError(f"no liquidation feed for {unknown}; known: {FEED_VENUES}")
    builders = {
        binance.VENUE: lambda: binance_feed(urls.get(binance.VENUE, BINANCE_URL)),
        bybit.VENUE: lambda: bybit_feed(symbols, urls.get(bybit.VENUE, BYBIT_URL)),
        okx.VENUE: lambda: okx_feed(urls.get(okx.VENUE, OKX_URL)),
    }
    return [builders[venue]() for venue in venues]
