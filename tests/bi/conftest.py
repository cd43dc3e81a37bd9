"""Fixtures of the BI tests: a small published warehouse and a Superset serving it.

The warehouse is the offline pipeline's own (simulated venues, the same parsers, dbt build,
gates and blue/green publish), over the last week of the `crash` preset for two symbols and
called in-process rather than through Airflow, so it takes well under a minute.
"""

from __future__ import annotations

from datetime import date

import pytest
from superset_server import BI_BIN, running_superset

from include.cryptodw.windows import Window

BI_WINDOW = Window(date(2026, 1, 30), date(2026, 2, 6))  # the crash preset's last week
BI_SYMBOLS = "BTCUSDT,ETHUSDT"


@pytest.fixture(scope="session")
def published(tmp_path_factory):
    """Settings of a data directory whose refresh has published a snapshot."""
    from include.cryptodw.offline import prepare_offline_exchange
    from include.cryptodw.pipeline import land_window
    from include.cryptodw.refresh import run_refresh
    from include.cryptodw.settings import load_settings

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CRYPTODW_DATA_DIR", str(tmp_path_factory.mktemp("bi") / "data"))
        patch.setenv("CRYPTODW_SOURCE_MODE", "simulated")
        patch.setenv("CRYPTODW_SYMBOLS", BI_SYMBOLS)
        settings = load_settings()
        prepare_offline_exchange(settings, "crash", BI_WINDOW)
        land_window(settings, BI_WINDOW)
        run_refresh(settings, BI_WINDOW)
        yield settings


@pytest.fixture(scope="session")
def superset(tmp_path_factory):
    if not (BI_BIN / "gunicorn").exists():
        pytest.skip(f"Superset is not installed in {BI_BIN.parent}: run `make bi-install`")
    with running_superset(tmp_path_factory.mktemp("superset")) as running:
        yield running
