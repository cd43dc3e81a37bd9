"""The brief's SQL: plain-SQL analyses in dbt_project/analyses/brief/, one file per query.

Each file starts with a comment that says what it returns and which `$parameters` it takes.
The brief runs the file's text unchanged against the published snapshot and prints the same
text in its appendix, so every figure can be traced to, and re-run from, its SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from include.cryptodw.settings import DBT_PROJECT_DIR, REPO_ROOT

QUERIES_DIR = DBT_PROJECT_DIR / "analyses" / "brief"
PARAMETER = re.compile(r"\$([a-z_]+)")


@dataclass(frozen=True)
class Query:
    """One analysis file: its name (the file stem), its description and its SQL text."""

    name: str
    path: Path
    description: str
    sql: str

    @property
    def parameters(self) -> tuple[str, ...]:
        """The `$name` parameters the SQL binds, in order of first use."""
        return tuple(dict.fromkeys(PARAMETER.findall(self.sql)))

    @property
    def repo_path(self) -> str:
        return self.path.relative_to(REPO_ROOT).as_posix()


@dataclass(frozen=True)
class Result:
    """A query's rows (as dicts), with the query and the parameter values it ran with."""

    query: Query
    parameters: dict[str, date | None]
    rows: list[dict]


def load_query(name: str) -> Query:
    """Read dbt_project/analyses/brief/<name>.sql."""
    path = QUERIES_DIR / f"{name}.sql"
    sql = path.read_text()
    return Query(name=name, path=path, description=_description(sql), sql=sql)


def run_query(con: duckdb.DuckDBPyConnection, name: str, values: dict) -> Result:
    """Run a brief query with the values of the parameters it uses (others are ignored)."""
    query = load_query(name)
    parameters = {key: values[key] for key in query.parameters}
    cursor = con.execute(query.sql, parameters)
    columns = [column[0] for column in cursor.description]
    rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return Result(query=query, parameters=parameters, rows=rows)


def _description(sql: str) -> str:
    """The leading comment block without its `Parameters:` line, as one line of text."""
    lines = []
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        text = line.removeprefix("--").strip()
        if not text.startswith("Parameters:"):
            lines.append(text)
    return " ".join(lines)
