"""A benchmark lake's generation resumes where it stopped: the simulation and each landed
month are kept, so an interrupted run of a big size loses only the months under way."""

from __future__ import annotations

import glob
from datetime import date

import pytest

from bench import lake, steps
from bench.sizes import Size
from include.cryptodw.windows import Window

# Three calendar months: Jan, Feb and the new day's March.
SIZE = Size("resume", symbols=1, history_start=date(2025, 1, 1), new_day=date(2025, 3, 1))


def fake_land_window(settings, month: Window) -> list:
    """Stands in for `pipeline.land_window` in the landing processes: records the month and
    fails on the month named in `fail` (a full disk, a killed process)."""
    fail = settings.data_dir.parent / "fail"  # outside the lake, which a new recipe clears
    if fail.exists() and fail.read_text() == month.start.isoformat():
        raise OSError(28, f"No space left on device landing {month.start}")
    with (settings.data_dir / "landed.log").open("a") as log:
        log.write(month.start.isoformat() + "\n")
    return []


@pytest.fixture
def generation(monkeypatch):
    """Counts simulations; landing is `fake_land_window`, one month at a time."""
    simulations = []
    monkeypatch.setattr(
        lake, "prepare_offline_exchange", lambda settings, *args: simulations.append(args)
    )
    monkeypatch.setattr(lake, "land_window", fake_land_window)
    monkeypatch.setattr(lake, "LANDING_PROCESSES", 1)
    return simulations


def _landed(tmp_path) -> list[str]:
    return (tmp_path / SIZE.name / "landed.log").read_text().split()


def test_an_interrupted_generation_resumes_with_the_months_not_landed(tmp_path, generation):
    (tmp_path / "fail").write_text("2025-02-01")
    with pytest.raises(OSError, match="landing 2025-02-01"):
        lake.ensure_lake(tmp_path, SIZE)
    before = _landed(tmp_path)
    assert before[0] == "2025-01-01"
    assert "2025-02-01" not in before  # (March may have started before February failed)

    (tmp_path / "fail").unlink()
    settings, seconds = lake.ensure_lake(tmp_path, SIZE)
    assert seconds is not None
    assert len(generation) == 1  # simulated once, not again on resuming
    resumed = _landed(tmp_path)[len(before) :]
    assert sorted(resumed) == ["2025-02-01", "2025-03-01"]  # January is not landed again
    assert lake.ensure_lake(tmp_path, SIZE) == (settings, None)  # complete: reused as is


def test_a_different_recipe_starts_over(tmp_path, generation):
    lake.ensure_lake(tmp_path, SIZE)
    (tmp_path / SIZE.name / "landed.log").write_text("")
    wider = Size(SIZE.name, symbols=2, history_start=SIZE.history_start, new_day=SIZE.new_day)
    lake.ensure_lake(tmp_path, wider)
    assert len(generation) == 2
    assert _landed(tmp_path) == ["2025-01-01", "2025-02-01", "2025-03-01"]


def test_the_baseline_lake_holds_only_the_recent_days(tmp_path):
    """The incremental step's month-old deployment sees only the last month of the lake."""
    lake_settings = lake.lake_settings(tmp_path / "size", SIZE)
    for day in ("2025-01-31", "2025-02-01", "2025-02-02"):
        for layer in ("raw", "manifests"):
            partition = lake_settings.lake_dir / layer / "okx" / "klines" / f"dt={day}"
            partition.mkdir(parents=True)
            (partition / "BTCUSDT-1h.parquet").write_text(day)
    for _ in range(2):  # a second run replaces the first one's links
        run = steps.recent_run_directory(lake_settings, "baseline", date(2025, 2, 1))
    files = glob.glob("**/*.parquet", root_dir=run.lake_dir, recursive=True)  # through links
    assert sorted(files) == [
        "manifests/okx/klines/dt=2025-02-01/BTCUSDT-1h.parquet",
        "manifests/okx/klines/dt=2025-02-02/BTCUSDT-1h.parquet",
        "raw/okx/klines/dt=2025-02-01/BTCUSDT-1h.parquet",
        "raw/okx/klines/dt=2025-02-02/BTCUSDT-1h.parquet",
    ]
    assert (run.replay_dir).resolve() == lake_settings.replay_dir.resolve()
