"""Fixtures of the reliability suite, and the summary it prints and writes to docs/reliability.md.

One offline exchange (Binance, BTCUSDT, 2026-02-03..05) is simulated per session; every case
lands into its own data directory holding a copy of it, and compares what it gets with a clean
run of the same slices. Each case reports its row counts to the session's ledger; when the
whole suite ran and passed, the ledger becomes the table in docs/reliability.md.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from fault_harness import EXCHANGE_WINDOW, SYMBOL, VENUE, FaultyExchange, Ledger, lake_state

from include.cryptodw.offline import prepare_offline_exchange, truth_dir
from include.cryptodw.pipeline import land_slice
from include.cryptodw.settings import REPO_ROOT, Settings
from include.cryptodw.windows import Window

HERE = Path(__file__).resolve().parent
DOC = REPO_ROOT / "docs" / "reliability.md"
LEDGER = Ledger()
_selection = {"items": 0, "files": set(), "deselected": 0}

WINDOW = Window(*EXCHANGE_WINDOW)  # klines: archive day + REST day
DAY = Window(WINDOW.end - timedelta(days=1), WINDOW.end)  # 02-04: REST and websocket


def make_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, source_mode="simulated", symbols=(SYMBOL,), venues=(VENUE,))


@pytest.fixture(scope="session")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The offline exchange every case copies (simulated once per session)."""
    settings = make_settings(tmp_path_factory.mktemp("exchange") / "data")
    prepare_offline_exchange(settings, "crash", WINDOW)
    return settings


def copy_exchange(exchange: Settings, data_dir: Path) -> Settings:
    settings = make_settings(data_dir)
    shutil.copytree(exchange.replay_dir, settings.replay_dir)
    shutil.copytree(truth_dir(exchange), truth_dir(settings))
    return settings


@pytest.fixture
def fresh(exchange: Settings, tmp_path: Path) -> Settings:
    """An empty lake next to a private copy of the exchange (cases may edit the copy)."""
    return copy_exchange(exchange, tmp_path / "data")


class CleanRun:
    """The slices the cases land, landed once without any fault: what every case compares to."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sleeps: list[float] = []
        transport = FaultyExchange(settings).transport(self.sleeps)
        land_slice(settings, "klines", WINDOW, symbol=SYMBOL, interval="1h", transport=transport)
        land_slice(settings, "open_interest", DAY, symbol=SYMBOL, transport=transport)
        land_slice(settings, "liquidations", DAY)
        self.state = lake_state(settings)

    def files(self, dataset: str) -> dict[str, bytes]:
        """The clean run's raw and quarantine files of one dataset."""
        return {path: data for path, data in self.state.items() if f"/{dataset}/" in path}


@pytest.fixture(scope="session")
def clean(exchange: Settings, tmp_path_factory: pytest.TempPathFactory) -> CleanRun:
    return CleanRun(copy_exchange(exchange, tmp_path_factory.mktemp("clean") / "data"))


@pytest.fixture
def ledger() -> Ledger:
    return LEDGER


# ------------------------------------------------------------------------------ reporting


def _ours(item: pytest.Item) -> bool:
    return Path(str(item.fspath)).resolve().parent == HERE


def pytest_collection_modifyitems(session, config, items) -> None:
    ours = [item for item in items if _ours(item)]
    _selection["items"] = len(ours)
    _selection["files"] = {Path(str(item.fspath)).name for item in ours}


def pytest_deselected(items) -> None:
    _selection["deselected"] += sum(1 for item in items if _ours(item))


def _whole_suite_ran(session) -> bool:
    """Every case file collected, nothing deselected, nothing failed, every case reported."""
    every_file = {path.name for path in HERE.glob("test_*.py")}
    return (
        _selection["files"] == every_file
        and _selection["deselected"] == 0
        and session.testsfailed == 0
        and len(LEDGER.outcomes) >= _selection["items"] > 0
    )


def pytest_terminal_summary(terminalreporter) -> None:
    if LEDGER.outcomes:
        terminalreporter.write_sep("=", f"reliability: {len(LEDGER.outcomes)} fault cases")
        terminalreporter.write_line(LEDGER.table())


def pytest_sessionfinish(session, exitstatus) -> None:
    if _whole_suite_ran(session):
        from reliability_doc import render

        text = render(LEDGER)
        if not DOC.exists() or DOC.read_text() != text:
            DOC.write_text(text)
