"""The BI tool end to end, as far as this machine allows without Docker: Superset from
.venv-bi on loopback, provisioned by the project's command against a published snapshot, its
charts queried through the API and the dashboard rendered in headless Chromium.

Slow (Superset's install, migrations and a browser): marker `bi`, run by `make test-bi`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import duckdb
import pytest
from headless_chromium import CHROMIUM, open_page
from superset_server import REPO, session_cookies

from include.cryptodw.bi import dashboard
from include.cryptodw.bi.provision import SPILL_DIR, Provisioned, chart_row_counts, provision
from include.cryptodw.bi.superset import SupersetClient, SupersetError, rison
from include.cryptodw.publish import publish

pytestmark = pytest.mark.bi

RENDER_TIMEOUT_S = 120
CHART_STATES = """(() => Array.from(
    document.querySelectorAll('[data-test="chart-grid-component"]'), (chart) => ({
        name: chart.getAttribute('data-test-chart-name'),
        drawn: chart.querySelector('canvas, table') !== null,
        loading: chart.querySelector('[data-test="loading-indicator"], .loading') !== null,
    })))()"""


@pytest.fixture
def client(superset):
    with SupersetClient(superset.url) as session:
        session.login(superset.username, superset.password)
        yield session


@pytest.fixture(scope="module")
def provisioned(superset, published) -> Provisioned:
    """Provisioned twice: by the command (as compose runs it), then again in-process."""
    command = [
        *(sys.executable, "-m", "include.cryptodw.bi.provision", "--url", superset.url),
        *("--published-path", str(published.published_path)),
    ]
    env = {
        **os.environ,
        "SUPERSET_ADMIN_USERNAME": superset.username,
        "SUPERSET_ADMIN_PASSWORD": superset.password,
    }
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    with SupersetClient(superset.url) as session:
        session.login(superset.username, superset.password)
        return provision(session, published.published_path)


def _count(client: SupersetClient, resource: str) -> int:
    return client.get(f"/api/v1/{resource}/", q=rison({"page_size": 100}))["count"]


def test_provisioning_twice_leaves_one_of_each_object(client, provisioned):
    assert _count(client, "database") == 1
    assert _count(client, "dataset") == len(dashboard.DATASETS)
    assert _count(client, "chart") == len(dashboard.LAYOUT.charts)
    assert _count(client, "dashboard") == 1
    on_dashboard = client.get(f"/api/v1/dashboard/{provisioned.dashboard_id}/charts")["result"]
    assert {chart["id"] for chart in on_dashboard} == set(provisioned.chart_ids.values())


def test_every_chart_query_returns_rows(client, provisioned):
    counts = chart_row_counts(client, provisioned.chart_ids)
    assert counts.keys() == {chart.key for chart in dashboard.LAYOUT.charts}
    assert all(rows > 0 for rows in counts.values()), counts


def test_the_connection_opens_the_snapshot_read_only(client, provisioned):
    def run(sql: str) -> dict:
        body = {"database_id": provisioned.database_id, "sql": sql, "runAsync": False}
        return client.post("/api/v1/sqllab/execute/", body)

    settings = run(
        "select current_setting('access_mode') as mode, current_setting('temp_directory') as spill"
    )["data"]
    assert settings == [{"mode": "read_only", "spill": SPILL_DIR}]
    with pytest.raises(SupersetError, match="DML"):
        run("delete from marts.prices_daily")


@pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"{CHROMIUM} not installed")
def test_the_dashboard_renders_in_headless_chromium(superset, provisioned):
    cookies = session_cookies(superset.url, superset.username, superset.password)
    url = f"{superset.url}/superset/dashboard/{dashboard.SLUG}/"
    with open_page(url, cookies) as page:
        deadline = time.monotonic() + RENDER_TIMEOUT_S
        charts = page.evaluate(CHART_STATES)
        while time.monotonic() < deadline and not _all_drawn(charts):
            time.sleep(0.5)
            charts = page.evaluate(CHART_STATES)
        shot = page.screenshot(superset.home / "market-stress.png")
        title = page.evaluate("document.title")

    assert title == dashboard.TITLE
    assert {chart["name"] for chart in charts} == {c.title for c in dashboard.LAYOUT.charts}
    assert _all_drawn(charts), f"not drawn after {RENDER_TIMEOUT_S}s: {charts} (see {shot})"


def _all_drawn(charts: list[dict] | None) -> bool:
    return bool(charts) and all(chart["drawn"] and not chart["loading"] for chart in charts)


def test_a_newly_published_snapshot_is_served_without_reprovisioning(
    client, provisioned, published
):
    """Publishing swaps a new file in under the path Superset opens; the next query reads it.
    (Runs last: it republishes the session's warehouse.)"""
    supports = {"support_levels": provisioned.chart_ids["support_levels"]}
    before = chart_row_counts(client, supports)["support_levels"]
    with duckdb.connect(str(published.warehouse_path)) as con:
        con.execute("delete from marts.support_levels where base_asset = 'ETH'")
        (remaining,) = con.execute("select count(*) from marts.support_levels").fetchall()[0]
    publish(published)

    assert remaining < before
    assert chart_row_counts(client, supports)["support_levels"] == remaining
