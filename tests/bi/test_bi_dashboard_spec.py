"""The dashboard described in code agrees with the dbt project, without starting Superset:
the exposure lists exactly the marts it reads, and every column a chart reads is a documented
column of that mart (a renamed column fails here, not in front of an analyst)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from include.cryptodw.bi import dashboard
from include.cryptodw.bi.provision import database_uri, object_uuid
from include.cryptodw.bi.superset import rison

MARTS = Path(__file__).resolve().parents[2] / "dbt_project" / "models" / "marts"
EXPOSURES = MARTS / "_marts__exposures.yml"


@pytest.fixture(scope="module")
def documented_columns() -> dict[str, set[str]]:
    """mart -> the columns its model YAML documents."""
    columns = {}
    for path in MARTS.rglob("_*__models.yml"):
        for model in yaml.safe_load(path.read_text())["models"]:
            columns[model["name"]] = {column["name"] for column in model.get("columns", [])}
    return columns


def _columns_read(chart: dashboard.Chart) -> set[str]:
    query = chart.query
    plain = {c if isinstance(c, str) else c["sqlExpression"] for c in query["columns"]}
    in_metrics = {
        name
        for metric in query.get("metrics", [])
        for name in re.findall(r"\(([a-z0-9_]+)\)", metric["sqlExpression"])
    }
    ordered = {column for column, _ in query["orderby"]}
    return plain | in_metrics | ordered


def test_the_exposure_lists_exactly_the_marts_the_dashboard_reads():
    (exposure,) = yaml.safe_load(EXPOSURES.read_text())["exposures"]
    refs = {re.fullmatch(r"ref\('(\w+)'\)", ref).group(1) for ref in exposure["depends_on"]}
    assert exposure["type"] == "dashboard" and exposure["label"] == dashboard.TITLE
    assert dashboard.SLUG in exposure["url"]
    assert refs == set(dashboard.DATASETS)


@pytest.mark.parametrize("chart", dashboard.LAYOUT.charts, ids=lambda chart: chart.key)
def test_every_column_a_chart_reads_is_a_documented_column_of_its_mart(chart, documented_columns):
    documented = documented_columns[chart.dataset]
    assert _columns_read(chart) <= documented, _columns_read(chart) - documented


def test_the_layout_fits_the_grid_and_places_every_chart_once():
    for row in dashboard.LAYOUT.rows:
        assert sum(item.width for item in row) <= dashboard.GRID_COLUMNS
    keys = [chart.key for chart in dashboard.LAYOUT.charts]
    assert len(keys) == len(set(keys))
    chart_ids = {key: number for number, key in enumerate(keys, start=1)}
    placed = [
        node["meta"]["chartId"]
        for node in dashboard.position(chart_ids).values()
        if isinstance(node, dict) and node.get("type") == "CHART"
    ]
    assert sorted(placed) == sorted(chart_ids.values())


def test_saved_queries_and_forms_name_their_dataset():
    for chart in dashboard.LAYOUT.charts:
        context = dashboard.query_context(chart, dataset_id=7)
        assert context["datasource"] == {"id": 7, "type": "table"}
        assert context["form_data"]["datasource"] == "7__table"
        assert context["form_data"]["viz_type"] == chart.viz_type


def test_rison_quotes_and_escapes_strings():
    query = {"filters": [{"col": "uuid", "opr": "eq", "value": "it's 100%!"}], "page": 0}
    assert rison(query) == "(filters:!((col:'uuid',opr:'eq',value:'it!'s 100%!!')),page:0)"


def test_objects_keep_their_uuid_and_the_uri_is_absolute(tmp_path, monkeypatch):
    assert object_uuid("chart", "prices") == object_uuid("chart", "prices")
    assert object_uuid("chart", "prices") != object_uuid("dataset", "prices")
    monkeypatch.chdir(tmp_path)
    assert database_uri(Path("warehouse.duckdb")) == f"duckdb:///{tmp_path}/warehouse.duckdb"
