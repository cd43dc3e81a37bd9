"""Run a suite on a pandas DataFrame, log a summary, raise `DataQualityError` on failure (G2).

Entry points, one per layer boundary:

- `validate_raw_table`: a landed slice (a pyarrow table) before it is written to the lake;
- `raw_table_passes`: the same suite on several slices at once, yes or no (no details);
- `validate_warehouse_layer`: every relation of schema `staging` or `marts` in a DuckDB file,
  opened read-only and read into pandas (GE's SQL datasource does not work on DuckDB);
- `validate_frame`: any frame against a named suite.

Each process builds one ephemeral GE context, on first use, and reuses it: importing GE costs
~3.6 s, the context ~0.05 s, a suite on a small frame ~0.1 s.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from include.cryptodw.assets import RawDataset
from include.cryptodw.quality.suites import (
    UNVALIDATED_RELATIONS,
    WARNING,
    MissingSuiteError,
    SuiteSpec,
    import_gx,
    suite_names,
    suite_spec,
)
from include.cryptodw.windows import Window

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

log = logging.getLogger(__name__)

LAYER_SCHEMAS = {"staging": "staging", "marts": "marts"}
_EXAMPLE_ROWS = 3
_MAX_VALUE_CHARS = 160
# GE bookkeeping, not arguments a reader needs to see.
_HIDDEN_KWARGS = {
    "batch_id", "column", "column_A", "column_B", "column_list", "condition_parser",
    "ignore_row_if", "result_format",
}  # fmt: skip


@dataclass(frozen=True)
class FailedExpectation:
    """One expectation that did not hold, in words a task log can show."""

    expectation: str  # GE type, e.g. "expect_column_values_to_be_between"
    column: str | None  # the column(s) it is about; None for table-level expectations
    kwargs: dict[str, Any]  # its other arguments (bounds, value sets, ...)
    severity: str  # "critical" fails the gate; "warning" is reported only
    failing_rows: int | None  # rows that broke it; None where GE counts no rows
    checked_rows: int | None  # rows it looked at (non-null values)
    detail: str  # example failing rows, an observed value, or the error that stopped it

    def describe(self) -> str:
        arguments = " ".join(f"{key}={_short(value)}" for key, value in self.kwargs.items())
        subject = " ".join(part for part in (self.expectation, self.column, arguments) if part)
        if self.failing_rows is not None:
            counted = f"{self.failing_rows} of {self.checked_rows} rows failed"
            return (
                f"{subject}: {counted}; {self.detail}" if self.detail else f"{subject}: {counted}"
            )
        return f"{subject}: {self.detail or 'not met'}"


@dataclass(frozen=True)
class ValidationSummary:
    """The outcome of one suite on one frame."""

    suite_name: str
    success: bool  # no critical expectation failed
    evaluated: int  # expectations evaluated
    failures: list[FailedExpectation]  # critical failures: these fail the gate
    rows: int  # rows validated
    warnings: list[FailedExpectation] = field(default_factory=list)  # reported, not failing
    dataset: str = ""  # what was validated, e.g. "marts.liquidations_daily"

    def headline(self) -> str:
        target = f" on {self.dataset}" if self.dataset and self.dataset != self.suite_name else ""
        passed = self.evaluated - len(self.failures) - len(self.warnings)
        text = (
            f"suite {self.suite_name}{target}: {passed}/{self.evaluated} expectations met, "
            f"{len(self.failures)} failed, {len(self.warnings)} warnings, {self.rows} rows"
        )
        return text

    def describe(self) -> str:
        lines = [self.headline()]
        lines += [f"  FAILED  {failure.describe()}" for failure in self.failures]
        lines += [f"  WARNING {warning.describe()}" for warning in self.warnings]
        return "\n".join(lines)


class DataQualityError(Exception):
    """A quality gate failed: names each failing suite and dataset, each failed expectation
    (type, column, arguments) with its failing row count, and any relation without a suite."""

    def __init__(self, summaries: Sequence[ValidationSummary], gaps: Sequence[str] = ()) -> None:
        self.summaries = list(summaries)
        self.gaps = list(gaps)
        super().__init__(self._message())

    def _message(self) -> str:
        failed = [summary for summary in self.summaries if not summary.success]
        parts = [
            f"data quality gate failed: {len(failed)} suite(s) failed, {len(self.gaps)} gap(s)"
        ]
        parts += [summary.describe() for summary in failed]
        parts += [f"GAP {gap}" for gap in self.gaps]
        return "\n".join(parts)


def validate_frame(
    df: pd.DataFrame,
    suite_name: str,
    *,
    raise_on_failure: bool = True,
    window_start: date | datetime | str | None = None,
    window_end: date | datetime | str | None = None,
    dataset: str | None = None,
) -> ValidationSummary:
    """Validate `df` with suite `suite_name`; raise `DataQualityError` if a critical check fails.

    The window (half-open, UTC days) is required by raw suites and lets daily mart suites check
    that every day is present. `dataset` names what is validated in logs and errors.
    """
    spec = suite_spec(suite_name)
    summary = _run(spec, df, _window(window_start, window_end), dataset or suite_name)
    _log(summary)
    if raise_on_failure and not summary.success:
        raise DataQualityError([summary])
    return summary


def validate_raw_table(
    table: pa.Table, venue: str, dataset: str, window_start: date, window_end: date
) -> ValidationSummary:
    """Gate a landed slice with suite `raw_<venue>__<dataset>` before it is written."""
    window = Window.parse(window_start, window_end)
    return validate_frame(
        _frame(table),
        RawDataset(venue, dataset).name,
        window_start=window.start,
        window_end=window.end,
        dataset=f"{venue}/{dataset} window [{window.start}, {window.end})",
    )


def raw_table_passes(
    table: pa.Table, venue: str, dataset: str, window_start: date, window_end: date
) -> bool:
    """Whether every expectation of suite `raw_<venue>__<dataset>`, warnings included, holds
    on `table`; logs the suite's headline when it does, and raises nothing.

    The one check `pipeline.land_window` runs over the slices of a dataset together: each
    raw suite checks rows, or groups of rows within one instrument, so when it holds on the
    slices together it holds on each slice. Slices that do not pass together are validated
    one by one with `validate_raw_table`, which names the failing slice and rows.
    """
    window = Window.parse(window_start, window_end)
    spec = suite_spec(RawDataset(venue, dataset).name)
    frame, derive_errors = spec.with_derived_columns(_frame(table))
    if derive_errors:
        return False
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(spec.suite(window), result_format=_QUICK_FORMAT)
    if result.success:
        summary = ValidationSummary(
            suite_name=spec.name,
            success=True,
            evaluated=len(result.results),
            failures=[],
            rows=table.num_rows,
            dataset=f"{venue}/{dataset} window [{window.start}, {window.end})",
        )
        _log(summary)
    return result.success


def _frame(table: pa.Table) -> pd.DataFrame:
    """`table` as the frame its suite checks. Timestamps come in nanoseconds: GE's pandas
    range check compares those in one vectorised pass, other units value by value in Python
    (the window check of a day's liquidations took a second)."""
    return table.to_pandas(coerce_temporal_nanoseconds=True)


def validate_warehouse_layer(
    duckdb_path: Path | str,
    layer: str,
    window_start: date | None = None,
    window_end: date | None = None,
) -> list[ValidationSummary]:
    """Validate every relation of `layer` ("staging" or "marts") in the DuckDB file.

    The file is opened read-only. Each relation is read into pandas (filtered to the window on
    its date or timestamp column when a window is given) and checked with the suite named after
    it. A relation without a suite, a suite whose relation is missing, or an empty layer is a
    gap. Raises `DataQualityError` listing every failing suite and gap, after checking all.
    """
    if layer not in LAYER_SCHEMAS:
        raise ValueError(f"layer must be one of {sorted(LAYER_SCHEMAS)}, not {layer!r}")
    import duckdb

    from include.cryptodw.lake.storage import register_lake_filesystem
    from include.cryptodw.settings import load_settings

    schema = LAYER_SCHEMAS[layer]
    window = _window(window_start, window_end)
    summaries: list[ValidationSummary] = []
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        register_lake_filesystem(con, load_settings())  # staging views read the lake (maybe S3)
        relations = _relations(con, schema)
        gaps = _missing_relations(layer, relations, duckdb_path)
        for name in relations:
            if name in UNVALIDATED_RELATIONS:
                log.info(
                    "%s.%s has no suite by design: %s", schema, name, UNVALIDATED_RELATIONS[name]
                )
                continue
            try:
                spec = suite_spec(name)
                frame = _read_relation(con, schema, spec, window)
            except MissingSuiteError:
                gaps.append(
                    f"{schema}.{name} has no suite: add one to include/cryptodw/quality/suites.py "
                    "or list it in UNVALIDATED_RELATIONS with the reason"
                )
                continue
            except duckdb.Error as exc:
                gaps.append(f"{schema}.{name} could not be read for validation: {exc}")
                continue
            summary = _run(spec, frame, window, f"{schema}.{name}")
            _log(summary)
            summaries.append(summary)
    if gaps or not all(summary.success for summary in summaries):
        raise DataQualityError(summaries, gaps)
    return summaries


# --------------------------------------------------------------------------- running a suite


@functools.cache
def _batch_definition() -> Any:
    """The process's one ephemeral context, reduced to a batch definition for whole frames."""
    context = import_gx().get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    asset = context.data_sources.add_pandas("cryptodw_frames").add_dataframe_asset("frame")
    return asset.add_batch_definition_whole_dataframe("whole_frame")


def _run(
    spec: SuiteSpec, df: pd.DataFrame, window: Window | None, dataset: str
) -> ValidationSummary:
    """Validate once with GE's cheapest result format; only if an expectation (of any
    severity) did not hold, validate again for the failing rows to report."""
    frame, derive_errors = spec.with_derived_columns(df)
    suite = spec.suite(window)
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format=_QUICK_FORMAT)
    if not result.success:
        result = batch.validate(suite, result_format=_detailed_format(spec, frame))
    failed = [_failed(r) for r in result.results if not r.success]
    failed += [
        FailedExpectation("derive_column", name, {}, "critical", None, None, f"cannot compute: {e}")
        for name, e in derive_errors.items()
    ]
    failed.sort(key=lambda f: (f.expectation, f.column or "", str(f.kwargs)))
    failures = [f for f in failed if f.severity != WARNING]
    return ValidationSummary(
        suite_name=spec.name,
        success=not failures,
        evaluated=len(result.results),
        failures=failures,
        rows=len(df),
        warnings=[f for f in failed if f.severity == WARNING],
        dataset=dataset,
    )


# Success per expectation only: the metrics GE needs to decide, nothing to describe failures.
_QUICK_FORMAT = {"result_format": "BOOLEAN_ONLY"}


def _detailed_format(spec: SuiteSpec, frame: pd.DataFrame) -> dict[str, Any]:
    """Counts and example failing rows, identified by the suite's key columns."""
    result_format: dict[str, Any] = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": _EXAMPLE_ROWS,
    }
    keys = [column for column in spec.key_columns if column in frame.columns]
    if keys:
        result_format["unexpected_index_column_names"] = keys
    return result_format


def _failed(validation_result: Any) -> FailedExpectation:
    config = validation_result.expectation_config
    kwargs = config.kwargs
    columns = kwargs.get("column_list") or [
        kwargs.get(k) for k in ("column", "column_A", "column_B")
    ]
    result = validation_result.result or {}
    return FailedExpectation(
        expectation=config.type,
        column=", ".join(c for c in columns if c) or None,
        kwargs={k: _argument(k, v) for k, v in kwargs.items() if k not in _HIDDEN_KWARGS},
        severity=str(getattr(config.severity, "value", config.severity)),
        failing_rows=result.get("unexpected_count"),
        checked_rows=_checked_rows(result),
        detail=_detail(validation_result),
    )


def _argument(key: str, value: Any) -> Any:
    """An expectation argument as a log shows it; a row condition as its pandas query."""
    if key == "row_condition" and isinstance(value, dict) and "pass_through_filter" in value:
        return value["pass_through_filter"]
    return _plain(value)


def _checked_rows(result: dict[str, Any]) -> int | None:
    """Non-null rows a row-level expectation looked at (None for table-level ones)."""
    if result.get("unexpected_count") is None:
        return None
    return (result.get("element_count") or 0) - (result.get("missing_count") or 0)


def _detail(validation_result: Any) -> str:
    exception = validation_result.exception_info or {}
    if exception.get("raised_exception"):
        return f"could not evaluate: {exception.get('exception_message')}"
    for info in exception.values():  # per-metric errors are keyed by metric id
        if isinstance(info, dict) and info.get("raised_exception"):
            return f"could not evaluate: {info.get('exception_message')}"
    result = validation_result.result or {}
    if result.get("partial_unexpected_index_list"):
        rows = result["partial_unexpected_index_list"][:_EXAMPLE_ROWS]
        return "e.g. " + "; ".join(_short(_plain(row)) for row in rows)
    if result.get("partial_unexpected_list"):
        return "e.g. " + _short(_plain(result["partial_unexpected_list"][:_EXAMPLE_ROWS]))
    if result.get("partial_missing_list"):
        missing = _short(_plain(result["partial_missing_list"]))
        return f"missing {result.get('missing_count')}: {missing}"
    if result.get("observed_value") is not None:
        return f"observed {_short(_plain(result['observed_value']))}"
    return ""


def _plain(value: Any) -> Any:
    """numpy scalars, timestamps and containers of them as plain, readable Python values."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy scalar
    return item() if callable(item) and not isinstance(value, str | bytes) else value


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


def _log(summary: ValidationSummary) -> None:
    if not summary.success:
        log.error("%s", summary.describe())
    elif summary.warnings:
        log.warning("%s", summary.describe())
    else:
        log.info("%s", summary.headline())


def _window(
    start: date | datetime | str | None, end: date | datetime | str | None
) -> Window | None:
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise ValueError(f"pass both window_start and window_end, or neither (got {start}, {end})")
    return Window.parse(start, end)


# --------------------------------------------------------------------------- reading DuckDB


def _relations(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = ? order by 1",
        [schema],
    ).fetchall()
    return [name for (name,) in rows]


def _missing_relations(layer: str, relations: list[str], path: Path | str) -> list[str]:
    """Suites of the layer whose relation was not built (all of them if the schema is empty)."""
    schema = LAYER_SCHEMAS[layer]
    if not relations:
        return [f"schema {schema} of {path} has no relations: was the layer built?"]
    return [
        f"{schema}.{name} is missing: its suite expects it"
        for name in suite_names(layer)
        if name not in relations
    ]


def _read_relation(
    con: duckdb.DuckDBPyConnection, schema: str, spec: SuiteSpec, window: Window | None
) -> pd.DataFrame:
    """The relation as a DataFrame, limited to the window on its time column if one is given."""
    sql = f'select * from "{schema}"."{spec.name}"'
    if window is None or spec.time_column is None:
        return _in_nanoseconds(con.execute(sql).df())
    column = f'"{spec.time_column}"'
    if spec.period == "day":
        sql += f" where {column} >= ? and {column} < ?"
    else:  # period starts: keep the periods that overlap the window
        sql += f" where {column} >= date_trunc('{spec.period}', ?::date) and {column} < ?"
    return _in_nanoseconds(con.execute(sql, [window.start, window.end]).df())


def _in_nanoseconds(frame: pd.DataFrame) -> pd.DataFrame:
    """DuckDB's dates and timestamps (microseconds) in nanoseconds, as `_frame` gives them."""
    import pandas as pd

    for column, dtype in frame.dtypes.items():
        if pd.api.types.is_datetime64_dtype(dtype) and dtype != "datetime64[ns]":
            try:
                frame[column] = frame[column].astype("datetime64[ns]")
            except pd.errors.OutOfBoundsDatetime:
                pass  # beyond year 2262: GE checks it all the same, value by value
    return frame
