"""The simulator's writer processes: same files as writing in-process, failures raised whole,
no process left behind."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from datetime import date
from pathlib import Path

import psutil
import pytest

from include.cryptodw.simulator import peak_memory_mb, simulate
from include.cryptodw.simulator.market import MarketDay, MarketSimulation
from include.cryptodw.simulator.presets import VENUES, get_preset, resolve_specs
from include.cryptodw.simulator.truth import spec_record, write_manifest
from include.cryptodw.simulator.writers import (
    BinanceArchiveWriter,
    ParallelWriters,
    StreamsWriter,
    TruthWriter,
    WriterFailed,
)

SYMBOLS = ("BTCUSDT", "SOLUSDT")
START, END = date(2025, 1, 30), date(2025, 2, 3)  # crosses a month: monthly archives too


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_processes_write_the_files_writing_in_process_would(tmp_path: Path):
    simulate(
        "crash",
        START,
        END,
        replay_root=tmp_path / "parallel" / "replay",
        truth_root=tmp_path / "parallel" / "truth",
        symbols=SYMBOLS,
    )
    # the same writers, called one after the other in this process
    root = tmp_path / "serial"
    specs = resolve_specs(SYMBOLS)
    model = MarketSimulation(get_preset("crash"), START, END, specs, 7, VENUES)
    writers = [
        TruthWriter(root / "truth", VENUES),
        StreamsWriter(root / "replay", specs, VENUES),
        BinanceArchiveWriter(root / "replay", specs, START, END),
    ]
    for market_day in model.days():
        for writer in writers:
            writer.write(market_day)
    for writer in writers:
        writer.finish()
    write_manifest(
        root / "truth",
        {
            "preset": "crash",
            "start": START.isoformat(),
            "end": END.isoformat(),
            "seed": 7,
            "specs": [spec_record(s) for s in specs],
            "venues": {v: [c.record() for c in model.contracts[v]] for v in VENUES},
        },
    )
    parallel = _tree_digest(tmp_path / "parallel")
    assert len(parallel) > 100
    assert parallel == _tree_digest(root)


class _Idle:
    """A healthy writer next to the failing one (it must be stopped too)."""

    venues = ("okx",)

    def write(self, market_day: MarketDay) -> None:
        pass

    def finish(self) -> int:
        return 0


class _Failing:
    """Fails on its second day (a writer's own error, e.g. a full disk)."""

    venues = ("okx",)

    def __init__(self) -> None:
        self.days = 0

    def write(self, market_day: MarketDay) -> None:
        self.days += 1
        if self.days == 2:
            raise OSError(28, "No space left on device")

    def finish(self) -> int:
        return 0


class _Dying:
    """Its process dies without a word (killed, out of memory)."""

    venues = ("okx",)

    def write(self, market_day: MarketDay) -> None:
        os._exit(9)

    def finish(self) -> int:
        return 0


def _days(n: int) -> list[MarketDay]:
    specs = resolve_specs(("BTCUSDT",))
    model = MarketSimulation(get_preset("calm"), START, date(2025, 2, 1 + n), specs, 7, ("okx",))
    return list(model.days())


def _feed(writers: ParallelWriters, days: list[MarketDay]) -> None:
    for day in days * 5:  # more days than the queue holds: the sender must notice
        writers.write(day)
    writers.finish()


@pytest.mark.parametrize(
    ("writer", "message"),
    [(_Failing(), "No space left on device"), (_Dying(), "exited with code 9")],
)
def test_a_failing_writer_fails_the_simulation_and_leaves_no_process(writer, message):
    days = _days(2)
    started = time.monotonic()
    with pytest.raises(WriterFailed, match=message) as failure:
        with ParallelWriters([_Idle(), writer]) as writers:
            processes = [worker.process for worker in writers._workers]
            _feed(writers, days)
    assert type(writer).__name__ in str(failure.value)
    assert time.monotonic() - started < 60
    assert not any(process.is_alive() for process in processes)


def test_simulate_reports_every_process_peak_memory(tmp_path: Path):
    report = simulate(
        "calm",
        START,
        date(2025, 1, 31),
        replay_root=tmp_path / "replay",
        truth_root=tmp_path / "truth",
        symbols=("BTCUSDT",),
    )
    assert report.peak_memory_mb > peak_memory_mb()  # this process's, plus the writers'
    assert report.files_written == len(_tree_digest(tmp_path))


def _simulate_forever(pids) -> None:
    """A simulating process that starts writers, reports their pids and never sends them a day."""
    with ParallelWriters([_Idle(), _Idle()]) as writers:
        pids.put([worker.process.pid for worker in writers._workers])
        time.sleep(600)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE


def test_writers_exit_when_the_simulating_process_is_killed():
    context = multiprocessing.get_context("spawn")
    pids = context.Queue()
    simulating = context.Process(target=_simulate_forever, args=(pids,))
    simulating.start()
    writer_pids = pids.get(timeout=60)
    assert all(_alive(pid) for pid in writer_pids)
    simulating.kill()  # SIGKILL: no __exit__, no None sent
    simulating.join()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in writer_pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in writer_pids)
