"""Writing a simulated market's days to disk, each kind of file in its own process.

The market model is sequential (each minute feeds the next), but what it publishes is not:
Binance's archive files, the venues' recorded streams and the truth tables depend only on the
day they describe (and the days before it, for a writer's own state). `ParallelWriters` hands
each day to one process per writer, so the files of a day are written while the next day is
simulated. Every process gets the days in order through a bounded queue (at most
`DAYS_IN_FLIGHT` days waiting, so memory stays bounded however long the window) and reports
back its files written and peak memory, or its error, which `ParallelWriters` raises.

The output does not depend on the processes: each writer is the same code on the same days,
and writers never touch each other's files.
"""

from __future__ import annotations

import multiprocessing
import queue
import resource
import traceback
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Protocol

from include.cryptodw.simulator.emitter import BinanceEmitter, StreamRecorder
from include.cryptodw.simulator.market import MarketDay
from include.cryptodw.simulator.presets import SymbolSpec
from include.cryptodw.simulator.streams import VENUE_STREAMS
from include.cryptodw.simulator.truth import write_truth_day

DAYS_IN_FLIGHT = 2
POLL_SECONDS = 0.5


def peak_memory_mb() -> float:
    """Peak resident set size of this process, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Writer(Protocol):
    venues: tuple[str, ...]  # the venues whose days it writes (only those are sent to it)

    def write(self, market_day: MarketDay) -> None: ...

    def finish(self) -> int:
        """Write what is left after the last day; return the files written in all."""
        ...


@dataclass
class TruthWriter:
    """The ground truth, per day and table (`truth.write_truth_day`)."""

    truth_root: Path
    venues: tuple[str, ...]
    files: int = 0

    def write(self, market_day: MarketDay) -> None:
        self.files += write_truth_day(self.truth_root, market_day)

    def finish(self) -> int:
        return self.files


@dataclass
class StreamsWriter:
    """Each venue's recorded liquidation websocket stream (Bybit, OKX)."""

    replay_root: Path
    specs: tuple[SymbolSpec, ...]
    venues: tuple[str, ...]
    _recorders: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.venues = tuple(venue for venue in self.venues if venue in VENUE_STREAMS)
        self._recorders = {
            venue: (StreamRecorder(self.replay_root, venue, stream), build)
            for venue, (stream, build) in VENUE_STREAMS.items()
            if venue in self.venues
        }

    def write(self, market_day: MarketDay) -> None:
        for venue, (recorder, build) in self._recorders.items():
            recorder.record(market_day.day, build(market_day.venues[venue], self.specs))

    def finish(self) -> int:
        for recorder, _ in self._recorders.values():
            recorder.finish()
        return sum(recorder.files_written for recorder, _ in self._recorders.values())


@dataclass
class BinanceArchiveWriter:
    """Binance's archive files and its recorded `forceOrder` stream (`BinanceEmitter`)."""

    replay_root: Path
    specs: tuple[SymbolSpec, ...]
    start: date
    end: date
    venues: tuple[str, ...] = ("binance",)
    _emitter: BinanceEmitter | None = None

    def __post_init__(self) -> None:
        self._emitter = BinanceEmitter(self.replay_root, self.specs, self.start, self.end)

    def write(self, market_day: MarketDay) -> None:
        self._emitter.emit(market_day)

    def finish(self) -> int:
        self._emitter.finish()
        return self._emitter.files


class WriterFailed(RuntimeError):
    """A writer's process failed or died; the message holds its traceback or exit code."""


def _serve(writer: Writer, inbox: multiprocessing.Queue, outbox: multiprocessing.Queue) -> None:
    """A writer's process: every day from `inbox` until None, then the result to `outbox`."""
    try:
        while (market_day := _next_day(inbox)) is not None:
            writer.write(market_day)
        files = writer.finish()
        outbox.put(("done", files, peak_memory_mb()))
    except BaseException:  # noqa: BLE001 - any failure goes back to the parent, whole
        outbox.put(("failed", traceback.format_exc(), 0.0))


def _next_day(inbox: multiprocessing.Queue) -> MarketDay | None:
    """The next day to write; exits when the simulating process is gone (killed: it could not
    send the None that ends the run), instead of waiting for it forever."""
    while True:
        try:
            return inbox.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if not multiprocessing.parent_process().is_alive():
                raise SystemExit("the simulating process is gone") from None


def _only(market_day: MarketDay, venues: tuple[str, ...]) -> MarketDay:
    """The day with just `venues` (less to copy to a writer's process)."""
    kept = {venue: day for venue, day in market_day.venues.items() if venue in venues}
    return replace(market_day, venues=kept)


@dataclass
class _Worker:
    name: str
    venues: tuple[str, ...]
    process: multiprocessing.process.BaseProcess
    inbox: multiprocessing.Queue
    outbox: multiprocessing.Queue

    def send(self, market_day: MarketDay | None) -> None:
        while True:
            try:
                self.inbox.put(market_day, timeout=POLL_SECONDS)
                return
            except queue.Full:
                self._raise_if_failed()

    def result(self) -> tuple[int, float]:
        while True:
            try:
                status, value, peak_mb = self.outbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                self._raise_if_failed()
                continue
            if status == "failed":
                raise WriterFailed(f"{self.name} failed:\n{value}")
            return value, peak_mb

    def _raise_if_failed(self) -> None:
        try:
            status, value, _ = self.outbox.get_nowait()
        except queue.Empty:
            if not self.process.is_alive():
                raise WriterFailed(
                    f"{self.name} exited with code {self.process.exitcode}"
                ) from None
            return
        raise WriterFailed(f"{self.name} failed:\n{value}")  # "done" only comes after None


def _context() -> multiprocessing.context.BaseContext:
    """Processes forked from a single-threaded server that has imported the writers: cheap to
    start, and safe whatever threads the caller runs (a plain fork copies their locks)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


class ParallelWriters:
    """One process per writer, fed the same days in order. Use as a context manager: leaving
    it stops every process, also when the simulation fails."""

    def __init__(self, writers: list[Writer]) -> None:
        context = _context()
        self._workers: list[_Worker] = []
        for writer in writers:
            inbox, outbox = context.Queue(DAYS_IN_FLIGHT), context.Queue()
            name = type(writer).__name__
            process = context.Process(
                target=_serve, args=(writer, inbox, outbox), name=f"simulator-{name}", daemon=True
            )
            process.start()
            self._workers.append(_Worker(name, writer.venues, process, inbox, outbox))

    def write(self, market_day: MarketDay) -> None:
        for worker in self._workers:
            worker.send(_only(market_day, worker.venues))

    def finish(self) -> tuple[int, float]:
        """Files written by every writer, and the sum of their peak memories (MiB)."""
        for worker in self._workers:
            worker.send(None)
        results = [worker.result() for worker in self._workers]
        for worker in self._workers:
            worker.process.join()
        return sum(files for files, _ in results), sum(peak for _, peak in results)

    def __enter__(self) -> ParallelWriters:
        return self

    def __exit__(self, *exc) -> None:
        for worker in self._workers:
            if worker.process.is_alive():
                worker.process.terminate()
            worker.process.join()
            # days a failed writer never read must not keep this process from exiting
            worker.inbox.cancel_join_thread()
