"""dbt's DuckDB runs under a memory cap (CRYPTODW_DUCKDB_MEMORY_LIMIT, default 2GB) instead of
DuckDB's own default of 80 % of the machine's RAM: bigger operators spill to disk."""

from __future__ import annotations

from dataclasses import replace

import duckdb
import pytest

from include.cryptodw.dbt_runner import build_args, dbt_env
from include.cryptodw.settings import DEFAULT_DUCKDB_MEMORY_LIMIT, load_settings


def duckdb_renders(limit: str) -> str:
    """How DuckDB itself reports `limit` once set (e.g. 300MB -> 286.1 MiB)."""
    with duckdb.connect() as con:
        con.execute(f"set memory_limit = '{limit}'")
        return con.execute("select current_setting('memory_limit')").fetchone()[0]


def memory_limit_in_dbt(settings) -> str:
    """The memory_limit a dbt invocation's DuckDB connection runs with (profiles.yml)."""
    from dbt.cli.main import dbtRunner

    args = build_args(settings, "show", None, None) + [
        "--inline",
        "select current_setting('memory_limit') as memory_limit",
    ]
    with pytest.MonkeyPatch.context() as patch:
        for name, value in dbt_env(settings).items():
            patch.setenv(name, value)
        outcome = dbtRunner().invoke(args)
    assert outcome.success, outcome.exception
    (result,) = outcome.result.results
    return result.agate_table.rows[0][0]


def test_the_default_cap_is_2gb(data_dir):
    assert load_settings().duckdb_memory_limit == DEFAULT_DUCKDB_MEMORY_LIMIT == "2GB"


@pytest.mark.parametrize("value", ["512MiB", " 1.5 GB ", "4gb", "750MB"])
def test_sizes_are_accepted(data_dir, monkeypatch, value):
    monkeypatch.setenv("CRYPTODW_DUCKDB_MEMORY_LIMIT", value)
    assert load_settings().duckdb_memory_limit == value.strip()


@pytest.mark.parametrize("value", ["", "2", "lots", "2GB; drop table x", "-1GB", "80%"])
def test_anything_else_is_refused_naming_the_variable(data_dir, monkeypatch, value):
    monkeypatch.setenv("CRYPTODW_DUCKDB_MEMORY_LIMIT", value)
    with pytest.raises(ValueError, match="CRYPTODW_DUCKDB_MEMORY_LIMIT"):
        load_settings()


@pytest.mark.slow
def test_dbt_connects_with_the_configured_cap(settings):
    settings.warehouse_dir.mkdir(parents=True)
    assert memory_limit_in_dbt(settings) == duckdb_renders("2GB")
    smaller = replace(settings, duckdb_memory_limit="300MB")
    assert memory_limit_in_dbt(smaller) == duckdb_renders("300MB") != duckdb_renders("2GB")
