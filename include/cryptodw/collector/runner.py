"""The capture loop: one asyncio task per venue connection, a flusher, and a clean shutdown.

Per feed, forever until stopped: connect, send the subscriptions, and read frames. DATA frames
go to the hourly segments with their receive time; the feed is covered from the last
subscription ACK until the session ends. A session ends on a server close, a dropped
connection, a ping timeout, a refused or unanswered subscription, or on our own schedule before
the venue's connection age limit (Binance: 24 h). Then the gap is recorded and the task waits
an exponential backoff with jitter (capped) before reconnecting; the backoff starts over after
a session that got subscribed.

The flusher rewrites the open hours' segments every `flush_interval_s`, checkpoints coverage
and logs message rates. SIGTERM / SIGINT stop the feed tasks, flush once more and record a
``shutdown`` gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from include.cryptodw.collector.coverage import Coverage, collector_id
from include.cryptodw.collector.feeds import Feed, FrameKind
from include.cryptodw.collector.segments import HourlySegments

log = logging.getLogger(__name__)

# HTTP answers at the handshake that mean "you are asking too often" (Bybit: wait >= 10 min).
RATE_LIMIT_STATUSES = (403, 418, 429)


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class CollectorConfig:
    """Where to write and how patiently to reconnect. Durations in seconds."""

    replay_root: Path
    flush_interval_s: float = 60.0
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    rate_limit_pause_s: float = 600.0
    open_timeout_s: float = 10.0
    subscribe_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    max_message_bytes: int = 2**22


class SessionEnded(Exception):
    """A session is over; `reason` is one of `coverage.GAP_REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class FeedRecorder:
    """Segments, coverage and counters of one feed."""

    def __init__(self, feed: Feed, root: Path, collector: str, clock: Callable[[], int]) -> None:
        self.feed = feed
        self.clock = clock
        self.segments = HourlySegments(root, feed.venue, feed.stream)
        self.coverage = Coverage(root, feed.venue, feed.stream, collector)
        self.received = 0
        self._reported = 0
        self._reported_at = clock()

    def record(self, text: str) -> None:
        self.segments.add(self.clock(), text)
        self.received += 1

    def subscribed(self) -> None:
        self.coverage.close_gap(self.clock())

    def lost(self, reason: str, detail: str) -> None:
        """Flush first, so the gap starts where the data on disk ends."""
        self.flush()
        self.coverage.open_gap(self.clock(), reason, detail)

    def flush(self) -> None:
        now = self.clock()
        self.segments.flush(now)
        self.coverage.checkpoint(now)

    def report(self) -> None:
        """Log the message rate since the last report."""
        now = self.clock()
        count, seconds = self.received - self._reported, max((now - self._reported_at) / 1000, 1e-3)
        log.info(
            "%s %s: %d messages in %.0f s (%.2f/s), %s, %d buffered",
            self.feed.venue,
            self.feed.stream,
            count,
            seconds,
            count / seconds,
            "covered" if self.coverage.covered else f"in a gap ({self.coverage.gap.reason})",
            self.segments.buffered,
        )
        self._reported, self._reported_at = self.received, now


def backoff_delay(attempt: int, base_s: float, cap_s: float) -> float:
    """Exponential backoff with jitter: uniform in [d/2, d], d = min(cap, base * 2**attempt)."""
    ceiling = min(cap_s, base_s * 2**attempt)
    return random.uniform(ceiling / 2, ceiling)


def _closed_reason(exc: ConnectionClosed) -> SessionEnded:
    if exc.rcvd is not None:
        return SessionEnded("server_close", f"code {exc.rcvd.code}: {exc.rcvd.reason!r}")
    if exc.sent is not None and exc.sent.code == 1011:
        return SessionEnded("ping_timeout", f"protocol keepalive: {exc.sent.reason!r}")
    return SessionEnded("connection_lost", f"no close frame ({exc})")


async def _session(ws, feed: Feed, recorder: FeedRecorder, config: CollectorConfig) -> None:
    """Subscribe and record until the session ends (always by raising `SessionEnded`)."""
    loop = asyncio.get_running_loop()
    opened = last_heard = loop.time()
    next_ping = opened + feed.ping_interval_s
    for frame in feed.subscribe_frames:
        await ws.send(frame)
    acks = 0
    if not feed.subscribe_frames:
        recorder.subscribed()
    while True:
        now = loop.time()
        deadlines = [next_ping] if feed.ping_frame else []
        if feed.max_connection_age_s is not None:
            deadlines.append(opened + feed.max_connection_age_s)
            if now >= opened + feed.max_connection_age_s:
                raise SessionEnded("max_age", f"reconnecting after {feed.max_connection_age_s} s")
        if acks < len(feed.subscribe_frames):
            deadlines.append(opened + config.subscribe_timeout_s)
            if now >= opened + config.subscribe_timeout_s:
                detail = f"{acks} of {len(feed.subscribe_frames)} acknowledged in time"
                raise SessionEnded("subscribe_error", detail)
        if feed.ping_frame:
            silence = feed.ping_interval_s + feed.pong_timeout_s
            deadlines.append(last_heard + silence)
            if now >= last_heard + silence:
                raise SessionEnded("ping_timeout", f"nothing received for {silence} s")
            if now >= next_ping:
                await ws.send(feed.ping_frame)
                next_ping = now + feed.ping_interval_s
        timeout = max(min(deadlines) - now, 0.0) if deadlines else None
        try:
            raw = await asyncio.wait_for(ws.recv(), timeout)
        except TimeoutError:
            continue
        last_heard = loop.time()
        text = raw if isinstance(raw, str) else raw.decode("utf-8", errors="replace")
        kind, detail = feed.classify(text)
        if kind is FrameKind.DATA:
            recorder.record(text)
        elif kind is FrameKind.ACK:
            acks += 1
            if acks == len(feed.subscribe_frames):
                log.info("%s %s: subscribed (%s)", feed.venue, feed.stream, detail)
                recorder.subscribed()
        elif kind is FrameKind.REJECT:
            raise SessionEnded("subscribe_error", detail)
        else:
            log.debug("%s control frame: %s", feed.venue, detail)


async def _connect_and_record(feed: Feed, recorder: FeedRecorder, config: CollectorConfig) -> None:
    """One connection attempt; raises `SessionEnded` with the reason it ended."""
    try:
        ws = await websockets.connect(
            feed.url,
            open_timeout=config.open_timeout_s,
            ping_interval=feed.ping_interval_s if feed.protocol_pings else None,
            ping_timeout=feed.pong_timeout_s if feed.protocol_pings else None,
            close_timeout=config.close_timeout_s,
            max_size=config.max_message_bytes,
            user_agent_header="cryptodw-collector",
        )
    except InvalidStatus as exc:
        raise SessionEnded("connect_error", f"HTTP {exc.response.status_code}") from exc
    except (OSError, TimeoutError, InvalidHandshake) as exc:
        raise SessionEnded("connect_error", f"{type(exc).__name__}: {exc}") from exc
    log.info("%s %s: connected to %s", feed.venue, feed.stream, feed.url)
    try:
        await _session(ws, feed, recorder, config)
    except ConnectionClosed as exc:
        raise _closed_reason(exc) from exc
    finally:
        await ws.close()


async def run_feed(feed: Feed, recorder: FeedRecorder, config: CollectorConfig) -> None:
    """Capture `feed` until cancelled, reconnecting with backoff and recording every gap."""
    attempt = 0
    while True:
        try:
            await _connect_and_record(feed, recorder, config)
        except SessionEnded as ended:
            was_covered = recorder.coverage.covered
            recorder.lost(ended.reason, ended.detail)
            attempt = 0 if was_covered else attempt + 1
            delay = backoff_delay(attempt, config.backoff_base_s, config.backoff_cap_s)
            cause = ended.__cause__
            if isinstance(cause, InvalidStatus) and (
                cause.response.status_code in RATE_LIMIT_STATUSES
            ):
                delay = max(delay, config.rate_limit_pause_s)
            log.warning(
                "%s %s: session ended (%s: %s); reconnecting in %.1f s",
                feed.venue,
                feed.stream,
                ended.reason,
                ended.detail,
                delay,
            )
            await asyncio.sleep(delay)


async def _flush_periodically(recorders: Sequence[FeedRecorder], interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        for recorder in recorders:
            recorder.flush()
            recorder.report()


async def run_collector(
    feeds: Sequence[Feed],
    config: CollectorConfig,
    stop: asyncio.Event | None = None,
    clock: Callable[[], int] = wall_ms,
) -> list[FeedRecorder]:
    """Capture `feeds` until `stop` is set (by default: on SIGTERM or SIGINT), then flush.

    Returns the recorders (their segments flushed, their coverage ending in a shutdown gap).
    """
    stop = stop or _stop_on_signals()
    collector = collector_id(clock())
    recorders = [FeedRecorder(feed, config.replay_root, collector, clock) for feed in feeds]
    for recorder in recorders:
        recorder.coverage.resume(clock())
    log.info("collector %s: capturing %s", collector, [f"{f.venue}/{f.stream}" for f in feeds])
    tasks = [
        asyncio.create_task(run_feed(recorder.feed, recorder, config), name=recorder.feed.venue)
        for recorder in recorders
    ]
    tasks.append(asyncio.create_task(_flush_periodically(recorders, config.flush_interval_s)))
    try:
        await _until_stopped_or_failed(stop, tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for recorder in recorders:
            recorder.lost("shutdown", "collector stopped")
            recorder.report()
    return recorders


async def _until_stopped_or_failed(stop: asyncio.Event, tasks: list[asyncio.Task]) -> None:
    """Wait for `stop`; a task that dies of a bug is re-raised instead of waited out."""
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    for task in done:
        if task is not stopper:
            task.result()  # raises the task's exception
    log.info("collector: stopping")


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    return stop
