"""Provision Superset from code: the warehouse connection, one dataset per mart the dashboard
reads, its charts and the "Market stress" dashboard, all through Superset's REST API.

    SUPERSET_ADMIN_USERNAME=admin SUPERSET_ADMIN_PASSWORD=... \\
        python -m include.cryptodw.bi.provision --url http://127.0.0.1:8088 [--check]

Idempotent: every object has a fixed uuid, so a second run updates what the first created
(charts edited in the UI are reset; save a copy to keep changes). The connection opens the
*published* warehouse path read-only. Publishing swaps a new file in under that same name
(include/cryptodw/publish.py), and Superset opens a new DuckDB connection per query, so the
connection stays valid across refreshes and each query sees one whole snapshot.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from include.cryptodw.bi import dashboard
from include.cryptodw.bi.superset import SupersetClient

log = logging.getLogger(__name__)

DATABASE_NAME = "cryptodw"
SPILL_DIR = "/tmp/cryptodw-duckdb-spill"
_NAMESPACE = uuid.UUID("6f0c7a4e-2d0b-4f7e-9a51-3c1d8e2b7a10")  # fixed: uuids survive reruns


@dataclass(frozen=True)
class Provisioned:
    database_id: int
    dataset_ids: dict[str, int]  # mart -> dataset id
    chart_ids: dict[str, int]  # chart key -> chart id
    dashboard_id: int


def object_uuid(kind: str, name: str) -> str:
    """The fixed uuid of a provisioned object, e.g. object_uuid("chart", "prices")."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{name}"))


def database_uri(published_path: Path) -> str:
    """SQLAlchemy URI of the published warehouse (duckdb-engine; absolute path)."""
    return f"duckdb:///{published_path.resolve()}"


def provision(client: SupersetClient, published_path: Path) -> Provisioned:
    """Create or update the connection, datasets, charts and dashboard; return their ids."""
    if not published_path.exists():
        raise FileNotFoundError(
            f"no published warehouse at {published_path}: the dashboard is provisioned once "
            "a refresh has published one"
        )
    database_id = ensure_database(client, published_path)
    dataset_ids = {name: ensure_dataset(client, database_id, name) for name in dashboard.DATASETS}
    dashboard_id = client.upsert(
        "dashboard",
        object_uuid("dashboard", dashboard.SLUG),
        {"dashboard_title": dashboard.TITLE, "slug": dashboard.SLUG, "published": True},
    )
    chart_ids = {
        chart.key: ensure_chart(client, chart, dataset_ids[chart.dataset], dashboard_id)
        for chart in dashboard.LAYOUT.charts
    }
    client.put(
        f"/api/v1/dashboard/{dashboard_id}",
        {
            "position_json": json.dumps(dashboard.position(chart_ids)),
            "json_metadata": json.dumps({"refresh_frequency": 0, "color_scheme": ""}),
        },
    )
    log.info("dashboard %r provisioned: /superset/dashboard/%s/", dashboard.TITLE, dashboard.SLUG)
    return Provisioned(database_id, dataset_ids, chart_ids, dashboard_id)


def ensure_database(client: SupersetClient, published_path: Path) -> int:
    """The read-only connection to the published warehouse (no DML, no uploads). DuckDB
    spills large sorts next to the database file by default; the published volume may be
    mounted read-only, so spills go to the temp directory instead."""
    connect_args = {"read_only": True, "config": {"temp_directory": SPILL_DIR}}
    extra = {"engine_params": {"connect_args": connect_args}}
    return client.upsert(
        "database",
        object_uuid("database", DATABASE_NAME),
        {
            "database_name": DATABASE_NAME,
            "sqlalchemy_uri": database_uri(published_path),
            "expose_in_sqllab": True,
            "allow_dml": False,
            "allow_ctas": False,
            "allow_cvas": False,
            "allow_file_upload": False,
            "extra": json.dumps(extra),
        },
    )


def ensure_dataset(client: SupersetClient, database_id: int, table: str) -> int:
    """A dataset on `marts.<table>`; an existing one re-reads its columns from the warehouse."""
    dataset_uuid = object_uuid("dataset", f"{dashboard.SCHEMA}.{table}")
    existing = client.find("dataset", dataset_uuid)
    if existing is None:
        body = {"database": database_id, "schema": dashboard.SCHEMA, "table_name": table}
        return client.create("dataset", dataset_uuid, body)
    client.put(f"/api/v1/dataset/{existing['id']}/refresh")
    return int(existing["id"])


def ensure_chart(
    client: SupersetClient, chart: dashboard.Chart, dataset_id: int, dashboard_id: int
) -> int:
    """A chart on its dataset, on the dashboard, with its form and its saved query."""
    body = {
        "slice_name": chart.title,
        "viz_type": chart.viz_type,
        "datasource_id": dataset_id,
        "datasource_type": "table",
        "params": json.dumps(dashboard.form_data(chart, dataset_id)),
        "query_context": json.dumps(dashboard.query_context(chart, dataset_id)),
        "dashboards": [dashboard_id],
    }
    return client.upsert("chart", object_uuid("chart", chart.key), body)


def chart_row_counts(client: SupersetClient, chart_ids: dict[str, int]) -> dict[str, int]:
    """Run every chart's saved query against the warehouse (no cache); rows per chart."""
    counts = {}
    for key, chart_id in chart_ids.items():
        answer = client.get(f"/api/v1/chart/{chart_id}/data/", format="json", force="true")
        counts[key] = sum(result["rowcount"] for result in answer["result"])
    return counts


def main(argv: list[str] | None = None) -> None:
    """The command: provision, then optionally run every chart's query (`--check`)."""
    from include.cryptodw.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="Superset's base URL")
    parser.add_argument(
        "--published-path",
        type=Path,
        help="the published warehouse as Superset's host sees it (default: from the settings)",
    )
    parser.add_argument("--check", action="store_true", help="then run every chart's query")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    published_path = args.published_path or load_settings().published_path
    with SupersetClient(args.url) as client:
        # The admin credentials are secrets: taken from the environment only, never flags.
        client.login(os.environ["SUPERSET_ADMIN_USERNAME"], os.environ["SUPERSET_ADMIN_PASSWORD"])
        provisioned = provision(client, published_path)
        if args.check:
            for key, rows in chart_row_counts(client, provisioned.chart_ids).items():
                log.info("chart %s: %d rows", key, rows)


if __name__ == "__main__":
    main()
