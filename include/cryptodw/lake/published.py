"""The published warehouse on object storage, `<lake>/published/` (`settings.published_store`).

Layout::

    snapshots/<id>/warehouse.duckdb       the snapshot, byte for byte the local published file
    snapshots/<id>/marts/<mart>.parquet   every analyst-facing mart, for engines that read parquet
    warehouse.duckdb                      the latest snapshot under a stable key
    latest.json                           the pointer: snapshot id, its objects, mart row counts

Objects are written in that order, each whole in one PUT, and the pointer last: a reader that
follows `latest.json` finds every object it names complete, and one that opens the stable key
gets the previous snapshot or the new one. The newest `keep` snapshots stay (rollback, readers
still on an older one); `latest.json` lists them, newest first.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from include.cryptodw.lake.storage import upload_file, write_object

if TYPE_CHECKING:
    from include.cryptodw.lake.storage import LakePath

log = logging.getLogger(__name__)

POINTER = "latest.json"


def upload_snapshot(
    store: LakePath,
    snapshot_id: str,
    snapshot: Path,
    marts: dict[str, pa.Table],
    keep: int,
) -> LakePath:
    """Upload a published snapshot and its marts under `store`; returns the pointer's path."""
    prefix = store / "snapshots" / snapshot_id
    objects = {"warehouse": str(prefix / "warehouse.duckdb")}
    upload_file(snapshot, prefix / "warehouse.duckdb")
    for name, table in marts.items():
        path = prefix / "marts" / f"{name}.parquet"
        write_object(path, _parquet_bytes(table))
        objects[name] = str(path)
    upload_file(snapshot, store / "warehouse.duckdb")
    earlier = read_pointer(store).get("snapshots", [])
    history = [snapshot_id, *(old for old in earlier if old != snapshot_id)]
    pointer = {
        "snapshot_id": snapshot_id,
        "published_at": datetime.now(UTC).isoformat(),
        "objects": objects,
        "mart_rows": {name: table.num_rows for name, table in marts.items()},
        "snapshots": history[:keep],
    }
    write_object(store / POINTER, json.dumps(pointer, indent=2, sort_keys=True).encode())
    for old in history[keep:]:
        _remove_tree(store / "snapshots" / old)
        log.info("pruned old published snapshot %s", old)
    log.info("uploaded snapshot %s with %d marts to %s", snapshot_id, len(marts), store)
    return store / POINTER


def read_pointer(store: LakePath) -> dict:
    """The current `latest.json`, or {} before the first upload."""
    pointer = store / POINTER
    return json.loads(pointer.read_bytes()) if pointer.exists() else {}


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _remove_tree(path: LakePath) -> None:
    if isinstance(path, Path):
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.fs.rm(path.path, recursive=True)
