"""Where the lake lives: a local directory (the default) or an S3 prefix, behind one path type.

`CRYPTODW_LAKE_URI=s3://bucket/prefix` moves the raw lake, the landing manifests, the quarantine
and the published copy of the warehouse to object storage (`settings.lake_dir` is then an
`s3://` path). Credentials come from the standard AWS variables (`AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`, or an instance role), read by botocore; this
package never handles them. `CRYPTODW_S3_ENDPOINT_URL` points at an S3-compatible store (MinIO,
moto) instead of AWS.

One s3fs filesystem serves every reader and writer: pyarrow writes parquet to bytes and the
writer puts them (`write_object`), and DuckDB reads the lake through the same fsspec filesystem,
registered on its connection (dbt's profile `filesystems`, `register_lake_filesystem`). DuckDB's
own httpfs extension is not needed (it is downloaded at run time, which this repository avoids).

Atomicity: a local file is written to a hidden temp name and renamed; on S3 the complete object
is sent to its final key in one PUT (or one multipart upload, which becomes visible only when it
completes), so readers never see a partial object.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from include.cryptodw.transport import atomic_write_bytes

if TYPE_CHECKING:
    from upath import UPath

    from include.cryptodw.settings import Settings

    LakePath = Path | UPath

OBJECT_STORE_SCHEMES = ("s3",)


def validate_lake_uri(uri: str) -> str:
    """A lake URI is `s3://bucket[/prefix]` or a plain local directory."""
    parts = urlsplit(uri)
    if "://" in uri and (parts.scheme not in OBJECT_STORE_SCHEMES or not parts.netloc):
        raise ValueError(
            f"CRYPTODW_LAKE_URI must be s3://bucket[/prefix] or a local directory, not {uri!r}"
        )
    return uri.rstrip("/")


def is_object_store(uri: str | None) -> bool:
    return bool(uri) and urlsplit(uri).scheme in OBJECT_STORE_SCHEMES


def storage_options(endpoint_url: str | None) -> dict:
    """The s3fs options every reader and writer uses.

    No listing cache: a long-lived process (the CLI, an Airflow worker running dbt) must see the
    objects other processes landed since its last listing.
    """
    options: dict = {"use_listings_cache": False}
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    return options


def lake_root(uri: str, endpoint_url: str | None) -> LakePath:
    """The lake root for `uri`: an `s3://` path (universal-pathlib) or a local `Path`."""
    if not is_object_store(uri):
        return Path(uri).resolve()
    from upath import UPath

    return UPath(uri, **storage_options(endpoint_url))


def write_object(path: LakePath, payload: bytes) -> None:
    """Write a complete file so readers see the old content or the new, never part of it."""
    if isinstance(path, Path):
        atomic_write_bytes(path, payload)
    else:
        path.fs.pipe_file(path.path, payload)


def upload_file(local: Path, path: LakePath) -> None:
    """Copy a local file to `path` whole (a large file goes up as one multipart upload, which
    appears only once it completes), without reading it into memory."""
    if isinstance(path, Path):
        tmp = path.with_name(f".{path.name}.tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local, tmp)
        os.replace(tmp, path)
    else:
        path.fs.put_file(str(local), path.path)


def duckdb_filesystems(settings: Settings) -> list[dict]:
    """dbt-duckdb's profile `filesystems`: the fsspec filesystem an object-store lake needs."""
    if not is_object_store(settings.lake_uri):
        return []
    scheme = urlsplit(settings.lake_uri).scheme
    return [{"fs": scheme, **storage_options(settings.s3_endpoint_url)}]


def register_lake_filesystem(con, settings: Settings) -> None:
    """Let a DuckDB connection read the lake (staging views select from it) when it is remote."""
    import fsspec

    for spec in duckdb_filesystems(settings):
        options = dict(spec)
        con.register_filesystem(fsspec.filesystem(options.pop("fs"), **options))
