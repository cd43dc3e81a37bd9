"""Publish the working warehouse as a read-only snapshot for BI tools and analysts.

DuckDB lets one process write a file, and while it does no other process may open it, not even
read-only. So readers never open the file dbt writes. After the gates pass, the working file is
checkpointed, copied to a new snapshot file, checked, and linked over the published name in one
`os.replace` (blue/green). Readers that already hold the previous file keep reading it whole;
new readers get the new one. A few previous snapshots are kept for rollback and for readers
still holding them. The published name is a hard link to the newest snapshot, which nothing
writes again: a publication costs one copy of the warehouse, in time and on disk (at 2y the
warehouse is 18.7 GB).

With the lake on object storage (`CRYPTODW_LAKE_URI`), the published snapshot and every
analyst-facing mart as parquet are also uploaded to `<lake>/published/` (layout and ordering in
include/cryptodw/lake/published.py), after the local swap.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from include.cryptodw.assets import ANALYTICS_MODELS, MART_MODELS
from include.cryptodw.lake.published import upload_snapshot
from include.cryptodw.settings import Settings

log = logging.getLogger(__name__)

KEEP_SNAPSHOTS = 3


class PublishError(RuntimeError):
    """The candidate snapshot is not fit to publish; the previous one stays published."""


@dataclass(frozen=True)
class Published:
    path: Path
    snapshot: Path
    mart_rows: dict[str, int]


def publish(settings: Settings, snapshot_id: str | None = None) -> Published:
    """Checkpoint, copy, verify and atomically swap in a new published snapshot."""
    snapshot_id = snapshot_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    snapshots = settings.published_dir / "snapshots"
    snapshots.mkdir(parents=True, exist_ok=True)
    _checkpoint(settings.warehouse_path)
    candidate = snapshots / f"warehouse-{snapshot_id}.duckdb"
    tmp = candidate.with_name(f".{candidate.name}.tmp")
    shutil.copyfile(settings.warehouse_path, tmp)
    try:
        mart_rows = verify_snapshot(tmp)
    except PublishError:
        tmp.unlink()
        log.error("not published; %s stays the published warehouse", settings.published_path)
        raise
    os.replace(tmp, candidate)
    link_tmp = settings.published_path.with_name(f".{settings.published_path.name}.tmp")
    link_tmp.unlink(missing_ok=True)  # left by a publication that died here
    _link_or_copy(candidate, link_tmp)
    os.replace(link_tmp, settings.published_path)
    _prune(snapshots, keep=candidate)
    log.info("published %s (%s)", settings.published_path, mart_rows)
    store = settings.published_store
    if store is not None:
        upload_snapshot(store, snapshot_id, candidate, _mart_tables(candidate), KEEP_SNAPSHOTS)
    return Published(settings.published_path, candidate, mart_rows)


def _link_or_copy(snapshot: Path, target: Path) -> None:
    """A second name for the snapshot; a copy where the filesystem has no hard links."""
    try:
        os.link(snapshot, target)
    except OSError as no_links:
        log.warning("copying %s: no hard link (%s)", snapshot.name, no_links)
        shutil.copyfile(snapshot, target)


def _checkpoint(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("checkpoint")


def verify_snapshot(path: Path) -> dict[str, int]:
    """Every analyst-facing mart exists in schema `marts`; the core marts have rows."""
    with duckdb.connect(str(path), read_only=True) as con:
        present = {
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
        missing = [name for name in (*MART_MODELS, *ANALYTICS_MODELS) if name not in present]
        if missing:
            raise PublishError(f"snapshot {path.name} lacks marts: {', '.join(missing)}")
        counts = {
            name: con.execute(f'select count(*) from marts."{name}"').fetchall()[0][0]
            for name in MART_MODELS
        }
    empty = [name for name, rows in counts.items() if rows == 0]
    if empty:
        raise PublishError(f"snapshot {path.name} has empty marts: {', '.join(empty)}")
    return counts


def _mart_tables(snapshot: Path) -> dict:
    """Every analyst-facing mart of a snapshot as an Arrow table (for the parquet upload)."""
    with duckdb.connect(str(snapshot), read_only=True) as con:
        return {
            name: con.sql(f'select * from marts."{name}"').to_arrow_table()
            for name in (*MART_MODELS, *ANALYTICS_MODELS)
        }


def _prune(snapshots: Path, keep: Path) -> None:
    """Keep the newest snapshots by publication time (ids need not sort), always `keep`."""
    by_age = sorted(
        (p for p in snapshots.glob("warehouse-*.duckdb") if p != keep),
        key=lambda p: p.stat().st_mtime_ns,
    )
    for old in by_age[: max(0, len(by_age) - (KEEP_SNAPSHOTS - 1))]:
        old.unlink()
        log.info("pruned old snapshot %s", old.name)


def connect_published(settings: Settings) -> duckdb.DuckDBPyConnection:
    """Open the published warehouse read-only (what analysts and BI tools use)."""
    path = settings.published_path
    if not path.exists():
        raise FileNotFoundError(f"no published warehouse at {path}; run `make demo` first")
    return duckdb.connect(str(path), read_only=True)
