"""The raw layer: Hive-partitioned parquet per venue / dataset / UTC day, written atomically."""

from include.cryptodw.lake.writer import (
    LandedFile,
    SourcePayload,
    land_records,
    partition_path,
    quarantine_records,
    validate_identifier,
)

__all__ = [
    "LandedFile",
    "SourcePayload",
    "land_records",
    "partition_path",
    "quarantine_records",
    "validate_identifier",
]
