"""One offline warehouse, built through Airflow, for every end-to-end test of the session."""

from __future__ import annotations

import pytest
from offline_run import SYMBOLS, build


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CRYPTODW_DATA_DIR", str(data_dir))
        patch.setenv("CRYPTODW_SOURCE_MODE", "simulated")
        patch.setenv("CRYPTODW_SYMBOLS", SYMBOLS)
        from include.cryptodw.settings import load_settings

        settings = load_settings()
        build(settings)
        yield settings
