"""Test-wide isolation: every test writes under its own temp data directory, never the repo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("CRYPTODW_SHARED_DIR", REPO_ROOT.parent / "shared")).resolve()
REALDATA = SHARED_DIR / "realdata"

# Airflow reads these at import time; point them at a throwaway home before anything imports it.
_AIRFLOW_HOME = Path(os.environ.get("PYTEST_AIRFLOW_HOME", "/tmp/cryptodw-pytest-airflow"))
os.environ.setdefault("AIRFLOW_HOME", str(_AIRFLOW_HOME))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "dags")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh CRYPTODW_DATA_DIR for one test."""
    directory = tmp_path / "data"
    monkeypatch.setenv("CRYPTODW_DATA_DIR", str(directory))
    monkeypatch.setenv("CRYPTODW_SOURCE_MODE", "replay")
    return directory


@pytest.fixture
def settings(data_dir: Path):
    from include.cryptodw.settings import load_settings

    return load_settings()


@pytest.fixture(scope="session")
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"shared real data not found at {REALDATA} (set CRYPTODW_SHARED_DIR)")
    return REALDATA
