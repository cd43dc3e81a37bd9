"""The venues' text a column at a time: what `formats` prints for one value, for whole arrays.

A simulated year emits hundreds of millions of numbers as text (archive rows, websocket
messages); formatting them one Python call at a time was about half of a long run. The
functions here build the same characters with pyarrow compute over numpy columns, and the
recorder files the resulting lines as one buffer per segment.
`tests/unit/simulator/test_columns.py` holds them to the per-value functions in `formats`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_PLAIN_NAME = re.compile(r"[A-Za-z0-9._-]+")


def plain_name(name: str) -> str:
    """`name` if it prints in JSON as itself (symbols, instruments), else ValueError."""
    if not _PLAIN_NAME.fullmatch(name):
        raise ValueError(
            f"instrument name {name!r} needs JSON escaping; the simulator prints names verbatim"
        )
    return name


def ints(values: np.ndarray) -> pa.Array:
    """Integers as decimal text (`str(int)`)."""
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def join(*parts: pa.Array | str) -> pa.Array:
    """Concatenate string columns and literals element-wise (at least one part is a column)."""
    return pc.binary_join_element_wise(*parts, "")


def choose(mask: np.ndarray, if_true: str, if_false: str) -> pa.Array:
    """One of two literals per row."""
    return pa.array(np.where(mask, if_true, if_false).astype(object), pa.string())


def fixed(units: np.ndarray, decimals: int | np.ndarray, pad_to: int | None = None) -> pa.Array:
    """`formats.fixed` of every element; `decimals` is one count or one per element."""
    units = np.asarray(units, dtype=np.int64)
    per_row = np.broadcast_to(np.asarray(decimals, dtype=np.int64), units.shape)
    distinct = np.unique(per_row)
    if distinct.size <= 1:
        digits = int(distinct[0]) if distinct.size else 0
        return _fixed_uniform(units, digits, pad_to)
    order = np.argsort(per_row, kind="stable")
    sorted_decimals = per_row[order]
    cuts = np.flatnonzero(sorted_decimals[1:] != sorted_decimals[:-1]) + 1
    parts = [
        _fixed_uniform(units[rows], int(per_row[rows[0]]), pad_to) for rows in np.split(order, cuts)
    ]
    return pa.concat_arrays(parts).take(pa.array(np.argsort(order)))


def _fixed_uniform(units: np.ndarray, decimals: int, pad_to: int | None) -> pa.Array:
    text = ints(np.abs(units))
    if decimals > 0:
        padded = pc.utf8_lpad(text, width=decimals + 1, padding="0")
        text = join(
            pc.utf8_slice_codeunits(padded, 0, -decimals),
            ".",
            pc.utf8_slice_codeunits(padded, -decimals),
        )
    if pad_to is not None and pad_to > decimals:
        text = join(text, ("." if decimals == 0 else "") + "0" * (pad_to - decimals))
    negative = units < 0
    if negative.any():
        text = pc.if_else(pa.array(negative), join("-", text), text)
    return text


def json_string_body(texts: pa.Array) -> pa.Array:
    """Each text as the inside of a JSON string literal, as `json.dumps` escapes it.

    The texts are the simulator's own payloads: digits, literals and `plain_name`s, printable
    ASCII without backslashes, so quotes are all there is to escape.
    """
    return pc.replace_substring(texts, '"', '\\"')


def group_join(values: pa.Array, starts: np.ndarray, separator: str) -> pa.Array:
    """Join consecutive runs of `values` (run i begins at `starts[i]`) with `separator`."""
    offsets = np.append(np.asarray(starts, dtype=np.int32), np.int32(len(values)))
    return pc.binary_join(
        pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values), separator
    )


def concatenated(lines: pa.Array, start: int, stop: int) -> bytes:
    """The UTF-8 bytes of `lines[start:stop]` back to back (no separator added)."""
    if stop <= start:
        return b""
    lines = lines.slice(start, stop - start)
    offset_type = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    _, offsets, data = lines.buffers()
    bounds = np.frombuffer(offsets, dtype=offset_type)[lines.offset : lines.offset + len(lines) + 1]
    return data.slice(int(bounds[0]), int(bounds[-1] - bounds[0])).to_pybytes()


@dataclass(frozen=True)
class Messages:
    """Websocket messages as columns: receive time (ms) and the payload text."""

    received_ms: np.ndarray
    texts: pa.Array

    @classmethod
    def empty(cls) -> Messages:
        return cls(np.empty(0, dtype=np.int64), pa.array([], pa.string()))

    def __len__(self) -> int:
        return int(self.received_ms.size)

    def take(self, rows: np.ndarray) -> Messages:
        return Messages(self.received_ms[rows], self.texts.take(pa.array(rows, pa.int64())))

    def then(self, other: Messages) -> Messages:
        """These messages followed by `other`'s."""
        return Messages(
            np.concatenate([self.received_ms, other.received_ms]),
            pa.concat_arrays([self.texts, other.texts.cast(self.texts.type)]),
        )
