"""The only place environment variables are read.

Everything a run writes lives under one data directory, `CRYPTODW_DATA_DIR` (default `./data`
relative to the repository). The other paths derive from it unless overridden:
`CRYPTODW_LAKE_URI=s3://bucket/prefix` moves the lake and a published copy of the warehouse to
object storage (credentials from the standard AWS_* variables, read by botocore, not here).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from include.cryptodw.assets import DEFAULT_SYMBOLS, VENUES
from include.cryptodw.redaction import Secret

if TYPE_CHECKING:
    from include.cryptodw.lake.storage import LakePath

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
SOURCE_MODES = ("simulated", "live", "replay")
DEFAULT_LOOKBACK_DAYS = 1
# DuckDB's own default is 80 % of the machine's RAM; past this cap a build's joins, aggregates
# and sorts spill to `<warehouse>.tmp` next to the file instead (docs/benchmarks.md "Memory").
DEFAULT_DUCKDB_MEMORY_LIMIT = "2GB"
MEMORY_SIZE = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)
# Optional API keys: every endpoint the pipeline calls is public, so none is needed. A key that
# is set is sent in the venue's documented key header (never signed, never retained or logged).
API_KEY_VARIABLES = {venue: f"CRYPTODW_{venue.upper()}_API_KEY" for venue in VENUES}
API_KEY_HEADERS = {"binance": "X-MBX-APIKEY", "bybit": "X-BAPI-API-KEY", "okx": "OK-ACCESS-KEY"}


@dataclass(frozen=True)
class Settings:
    """Resolved paths and run options. Build with `load_settings()`."""

    data_dir: Path
    # "simulated" (the offline exchange answers, the default), "live" (the venues' APIs) or
    # "replay" (only payloads retained by earlier runs, e.g. a mirror of Binance's archive)
    source_mode: str
    symbols: tuple[str, ...]  # USD-M perpetual symbols to land, e.g. ("BTCUSDT", "ETHUSDT")
    venues: tuple[str, ...] = VENUES  # venues to land, e.g. ("binance", "bybit", "okx")
    # venue -> configured API key; kept out of repr and comparisons
    api_keys: Mapping[str, Secret] = field(default_factory=dict, repr=False, compare=False)
    # Object storage for the lake and the published warehouse, e.g. "s3://bucket/cryptodw"
    # (CRYPTODW_LAKE_URI); None keeps them under data_dir. See include/cryptodw/lake/storage.py.
    lake_uri: str | None = None
    # An S3-compatible store's endpoint (MinIO, moto) instead of AWS (CRYPTODW_S3_ENDPOINT_URL)
    s3_endpoint_url: str | None = None
    # UTC days before a scheduled run's data interval that the run covers again, so rows that
    # land late are picked up (CRYPTODW_LOOKBACK_DAYS); explicit windows are taken as given
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    # The memory dbt's DuckDB may use, e.g. "2GB" (CRYPTODW_DUCKDB_MEMORY_LIMIT)
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT

    def api_key_headers(self, venue: str) -> dict[str, str]:
        """The header carrying `venue`'s configured API key, or nothing."""
        key = self.api_keys.get(venue)
        return {API_KEY_HEADERS[venue]: key.reveal()} if key else {}

    @property
    def lake_dir(self) -> LakePath:
        """Raw layer: Hive-partitioned parquet, one directory per venue and dataset.

        `<data_dir>/lake`, or `lake_uri` (then an `s3://` path when it names a bucket).
        """
        if self.lake_uri:
            from include.cryptodw.lake.storage import lake_root

            return lake_root(self.lake_uri, self.s3_endpoint_url)
        return self.data_dir / "lake"

    @property
    def raw_dir(self) -> LakePath:
        return self.lake_dir / "raw"

    @property
    def quarantine_dir(self) -> LakePath:
        """Rejected input rows with their reason; never silently dropped."""
        return self.lake_dir / "quarantine"

    @property
    def manifest_dir(self) -> LakePath:
        """One JSON manifest per landed file: source, fetch time, payload hash, rows."""
        return self.lake_dir / "manifests"

    @property
    def published_store(self) -> LakePath | None:
        """Where publishing also uploads the snapshot and the marts: `<lake_uri>/published`.

        None when `lake_uri` is unset (the published snapshot is then only the local file).
        """
        return self.lake_dir / "published" if self.lake_uri else None

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
    def briefs_dir(self) -> Path:
        """The daily briefs, one directory per UTC day: Markdown, self-contained HTML, charts."""
        return self.data_dir / "briefs"

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
    return Settings(
        data_dir=data_dir,
        source_mode=source_mode,
        symbols=symbols,
        venues=venues,
        api_keys=load_api_keys(),
        lake_uri=_lake_uri(os.environ.get("CRYPTODW_LAKE_URI", "").strip()),
        s3_endpoint_url=os.environ.get("CRYPTODW_S3_ENDPOINT_URL", "").strip() or None,
        lookback_days=_lookback_days(
            os.environ.get("CRYPTODW_LOOKBACK_DAYS", str(DEFAULT_LOOKBACK_DAYS))
        ),
        duckdb_memory_limit=_memory_limit(
            os.environ.get("CRYPTODW_DUCKDB_MEMORY_LIMIT", DEFAULT_DUCKDB_MEMORY_LIMIT)
        ),
    )


def _lake_uri(value: str) -> str | None:
    if not value:
        return None
    from include.cryptodw.lake.storage import validate_lake_uri

    return validate_lake_uri(value)


def _lookback_days(value: str) -> int:
    if not value.strip().isdigit():
        raise ValueError(f"CRYPTODW_LOOKBACK_DAYS must be a whole number of days, not {value!r}")
    return int(value)


def _memory_limit(value: str) -> str:
    if not MEMORY_SIZE.fullmatch(value.strip()):
        raise ValueError(
            f"CRYPTODW_DUCKDB_MEMORY_LIMIT must be a size such as 2GB or 512MiB, not {value!r}"
        )
    return value.strip()


def shared_dir() -> Path:
    """The shared reference folder (real-data samples, seed report): CRYPTODW_SHARED_DIR, else
    `shared/` next to the repository."""
    return Path(os.environ.get("CRYPTODW_SHARED_DIR", REPO_ROOT.parent / "shared")).resolve()


def load_api_keys() -> dict[str, Secret]:
    """The venues' API keys set in the environment (`API_KEY_VARIABLES`); blank means unset."""
    keys = {}
    for venue, variable in API_KEY_VARIABLES.items():
        value = os.environ.get(variable, "").strip()
        if value:
            keys[venue] = Secret(value)
    return keys


def _csv(value: str, normalize) -> tuple[str, ...]:
    return tuple(normalize(item.strip()) for item in value.split(",") if item.strip())
