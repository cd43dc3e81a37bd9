"""A landing task that dies, crashes or runs out of disk mid-partition, and two landings of the
same interval at once. Readers (glob ``*.parquet``, pyarrow, DuckDB as dbt reads the lake) must
only ever see whole files, and a re-run must recover to the clean result.

The slice is BTCUSDT 1h klines over 2026-02-03..05 (two day files), landed through the
offline exchange as `simulated` mode does.
"""

from __future__ import annotations

import errno
import hashlib
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import DAY, WINDOW
from fault_harness import (
    SYMBOL,
    Outcome,
    duckdb_count,
    exact_duplicates,
    lake_state,
    raw_rows,
    temp_files,
    visible_files,
)

from include.cryptodw import transport as transport_module
from include.cryptodw.pipeline import land_slice
from include.cryptodw.settings import REPO_ROOT

KIND = "process"
SECOND_DAY = f"dt={DAY.start.isoformat()}/{SYMBOL}-1h.parquet"


def _land_klines(settings):
    return land_slice(settings, "klines", WINDOW, symbol=SYMBOL, interval="1h")


def _assert_only_whole_files(settings, clean_files: dict[str, bytes]) -> None:
    """Every visible file is one the clean run wrote, and DuckDB reads every one of them."""
    visible = lake_state(settings)
    assert all(clean_files[path] == data for path, data in visible.items())
    assert duckdb_count(settings, "klines") == len(raw_rows(settings, "klines"))


# A landing in its own process that stops just before renaming the second day's file into
# place (its temp file fully written), tells the test, and waits to be killed.
_KILLED_LANDING = """
import os, sys, time
from pathlib import Path
from include.cryptodw.pipeline import land_slice
from include.cryptodw.settings import Settings
from include.cryptodw.windows import Window

data_dir, marker, target = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
rename = os.replace

def replace_then_hang(src, dst):
    if str(dst).endswith(target):
        marker.write_text(str(src))
        time.sleep(600)
    rename(src, dst)

os.replace = replace_then_hang
settings = Settings(data_dir, "simulated", ("BTCUSDT",), ("binance",))
land_slice(settings, "klines", Window.parse(sys.argv[4], sys.argv[5]), "BTCUSDT", "1h")
"""


def test_a_landing_killed_mid_partition_leaves_no_partial_file(fresh, clean, ledger, tmp_path):
    marker = tmp_path / "writing"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    args = [str(fresh.data_dir), str(marker), SECOND_DAY, *map(str, (WINDOW.start, WINDOW.end))]
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_KILLED_LANDING), *args], env=env, cwd=REPO_ROOT
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), f"the landing did not reach the second day (exit {child.poll()})"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)

    clean_files = clean.files("klines")
    stale = temp_files(fresh.data_dir)
    assert [Path(p).name for p in stale] == [Path(marker.read_text()).name]  # the torn write
    assert SECOND_DAY not in "".join(lake_state(fresh))  # not visible under its real name
    _assert_only_whole_files(fresh, clean_files)
    killed_rows = len(raw_rows(fresh, "klines"))

    result = _land_klines(fresh)
    assert lake_state(fresh) == clean_files
    ledger.record(
        Outcome(KIND, "landing killed (SIGKILL) before the 2nd day file's rename",
                f"day 1 whole, day 2 absent ({killed_rows} rows visible, temp file "
                "invisible); re-run equals the clean run", result.rows, result.rows, 0)
    )  # fmt: skip


def _previous_landing(settings) -> Path:
    """A landed slice whose second day differs from what the next landing writes (a whole,
    valid file: the first day's), so "old or new, never half" is visible. Its path."""
    _land_klines(settings)
    days = sorted((settings.raw_dir / "binance" / "klines").glob(f"dt=*/{SYMBOL}-1h.parquet"))
    days[1].write_bytes(days[0].read_bytes())
    return days[1]


def test_a_crash_between_temp_write_and_rename_leaves_the_previous_file(
    fresh, clean, ledger, monkeypatch
):
    target = _previous_landing(fresh)
    before = lake_state(fresh)
    rename = os.replace

    def crash_on_second_day(src, dst):
        if Path(dst) == target:
            raise RuntimeError("worker crashed between temp write and rename")
        rename(src, dst)

    monkeypatch.setattr(transport_module.os, "replace", crash_on_second_day)
    with pytest.raises(RuntimeError, match="between temp write and rename"):
        _land_klines(fresh)
    monkeypatch.undo()

    assert lake_state(fresh) == before
    assert temp_files(fresh.data_dir) == []
    result = _land_klines(fresh)
    assert lake_state(fresh) == clean.files("klines")
    ledger.record(
        Outcome(KIND, "exception between temp write and rename",
                "error raised; previous files intact, temp removed; re-run equals the clean run",
                result.rows, result.rows, 0)
    )  # fmt: skip


class _FullDisk:
    """A file handle on a disk that fills up half way through the write (ENOSPC)."""

    def __init__(self, path, mode):
        self._handle = open(path, mode)  # noqa: SIM115 - closed by __exit__

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._handle.close()

    def write(self, payload: bytes) -> int:
        self._handle.write(payload[: len(payload) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self) -> None:
        self._handle.flush()

    def fileno(self) -> int:
        return self._handle.fileno()


def test_disk_full_during_a_write_fails_clearly_and_keeps_the_previous_files(
    fresh, clean, ledger, monkeypatch
):
    _previous_landing(fresh)
    before = lake_state(fresh)
    monkeypatch.setattr(transport_module, "open", _FullDisk, raising=False)
    with pytest.raises(OSError, match="No space left on device") as failure:
        _land_klines(fresh)
    monkeypatch.undo()

    assert failure.value.errno == errno.ENOSPC
    assert lake_state(fresh) == before and temp_files(fresh.data_dir) == []
    result = _land_klines(fresh)
    assert lake_state(fresh) == clean.files("klines")
    ledger.record(
        Outcome(KIND, "disk full (ENOSPC) half way through a file write",
                "OSError ENOSPC; half-written temp removed, previous files intact; "
                "re-run equals the clean run", result.rows, result.rows, 0)
    )  # fmt: skip


# ----------------------------------------------------------------------------- concurrency


def _land_together(data_dir: str, barrier, results) -> None:
    from conftest import make_settings

    barrier.wait(timeout=60)
    try:
        results.put(_land_klines(make_settings(Path(data_dir))).rows)
    except Exception as exc:  # reported to the test, which fails on it
        results.put(repr(exc))


def _manifests_match_files(settings) -> bool:
    """Each day file's manifest names its row count and hash (no manifest from the other run
    describing a different file)."""
    files = visible_files(settings.raw_dir)
    manifests = sorted(settings.manifest_dir.rglob("*.json"))
    for path in manifests:
        manifest = json.loads(path.read_text())
        raw = path.relative_to(settings.manifest_dir).with_suffix(".parquet").as_posix()
        if hashlib.sha256(files[raw]).hexdigest() != manifest["file_sha256"]:
            return False
    return len(manifests) == len(files)


def test_two_landings_of_the_same_interval_at_once_equal_one(fresh, clean, ledger):
    context = mp.get_context("fork")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=_land_together, args=(str(fresh.data_dir), barrier, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)

    assert all(isinstance(rows, int) for rows in outcomes), outcomes
    assert lake_state(fresh) == clean.files("klines")
    landed = raw_rows(fresh, "klines")
    assert exact_duplicates(landed) == 0 and temp_files(fresh.data_dir) == []
    assert _manifests_match_files(fresh)
    ledger.record(
        Outcome("concurrency", "two processes land the same interval at once",
                "lake equals one clean run; no duplicate, no temp file", sum(outcomes) // 2,
                len(landed), 0)
    )  # fmt: skip
