"""The only place environment variables are read.

Everything a run writes lives under one data directory, `CRYPTODW_DATA_DIR` (default `./data`
relative to the repository). The other paths derive from it unless overridden.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from include.cryptodw.assets import DEFAULT_SYMBOLS, VENUES

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
SOURCE_MODES = ("simulated", "live", "replay")


@dataclass(frozen=True)
class Settings:
    """Resolved paths and run options. Build with `load_settings()`."""

    data_dir: Path
    # "simulated" (the offline exchange answers, the default), "live" (the venues' APIs) or
    # "replay" (only payloads retained by earlier runs, e.g. a mirror of Binance's archive)
    source_mode: str
    symbols: tuple[str, ...]  # USD-M perpetual symbols to land, e.g. ("BTCUSDT", "ETHUSDT")
    venues: tuple[str, ...] = VENUES  # venues to land, e.g. ("binance", "bybit", "okx")

    @property
    def lake_dir(self) -> Path:
        """Raw layer: Hive-partitioned parquet, one directory per venue and dataset."""
        return self.data_dir / "lake"

    @property
    def raw_dir(self) -> Path:
        return self.lake_dir / "raw"

    @property
    def quarantine_dir(self) -> Path:
        """Rejected input rows with their reason; never silently dropped."""
        return self.lake_dir / "quarantine"

    @property
    def manifest_dir(self) -> Path:
        """One JSON manifest per landed file: source, fetch time, payload hash, rows."""
        return self.lake_dir / "manifests"

    @property
    def replay_dir(self) -> Path:
        """Retained exchange payloads (archive files, REST pages, websocket messages)."""
        return self.data_dir / "replay"

    @property
    def warehouse_dir(self) -> Path:
        return self.data_dir / "warehouse"

    @property
    def warehouse_path(self) -> Path:
        """The working DuckDB file that dbt writes (the single writer)."""
        return self.warehouse_dir / "work.duckdb"

    @property
    def published_dir(self) -> Path:
        return self.warehouse_dir / "published"

    @property
    def published_path(self) -> Path:
        """The read-only snapshot BI tools and analysts open."""
        return self.published_dir / "warehouse.duckdb"

    @property
    def dbt_target_dir(self) -> Path:
        return self.data_dir / "dbt" / "target"

    @property
    def dbt_docs_dir(self) -> Path:
        """The dbt docs site (index.html, manifest, catalog) of the last published refresh."""
        return self.data_dir / "dbt" / "docs"

    @property
    def dbt_log_dir(self) -> Path:
        return self.data_dir / "dbt" / "logs"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"


def load_settings() -> Settings:
    """Read the environment once; call again after changing it (tests do)."""
    data_dir = Path(os.environ.get("CRYPTODW_DATA_DIR", REPO_ROOT / "data")).resolve()
    source_mode = os.environ.get("CRYPTODW_SOURCE_MODE", "simulated")
    if source_mode not in SOURCE_MODES:
        raise ValueError(f"CRYPTODW_SOURCE_MODE must be one of {SOURCE_MODES}, not {source_mode!r}")
    symbols = _csv(os.environ.get("CRYPTODW_SYMBOLS", ",".join(DEFAULT_SYMBOLS)), str.upper)
    venues = _csv(os.environ.get("CRYPTODW_VENUES", ",".join(VENUES)), str.lower)
    unknown = sorted(set(venues) - set(VENUES))
    if unknown:
        raise ValueError(f"CRYPTODW_VENUES names unknown venues {unknown}; known: {VENUES}")
    return Settings(data_dir=data_dir, source_mode=source_mode, symbols=symbols, venues=venues)


def _csv(value: str, normalize) -> tuple[str, ...]:
    return tuple(normalize(item.strip()) for item in value.split(",") if item.strip())
