"""The daily brief that transform_warehouse writes as its last task.

Its figures are checked against this test's own queries of the marts (not the brief's SQL),
its appendix against the SQL files in dbt_project/analyses/brief/, and its HTML in headless
Chromium (Debian's package; `make chromium` installs it).
"""

from __future__ import annotations

import html
import re
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from offline_run import WINDOW
from PIL import Image

from include.cryptodw.brief import WrittenBrief, brief_paths
from include.cryptodw.brief import formats as fmt
from include.cryptodw.brief.charts import render_charts
from include.cryptodw.brief.figures import FIGURE_QUERIES, Figures, gather_figures
from include.cryptodw.brief.queries import QUERIES_DIR

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
)
CHARTS = ("breadth", "liquidations", "open_interest", "price_support")
SECTION_TITLES = (
    "What moved",
    "How much was liquidated",
    "Cascades",
    "The leverage unwind: open interest",
    "Beyond Bitcoin: how the stress spreads",
    "Critical support levels",
    "Treasury holders",
    "What to watch",
    "Appendix: the SQL behind every figure",
)
MAJORS = ["BTC", "ETH", "BNB", "SOL", "XRP"]
LAST_DAY = WINDOW.end - timedelta(days=1)
# After the page has loaded, count the images that decoded (a broken data URI has no width).
DECODE_PROBE = (
    "<script>window.addEventListener('load', () => { document.body.dataset.decoded = "
    "[...document.images].filter((img) => img.naturalWidth > 0).length; });</script>"
)


@dataclass(frozen=True)
class Brief:
    written: WrittenBrief
    markdown: str
    page: str  # the HTML as written
    figures: Figures

    @property
    def page_text(self) -> str:
        return html.unescape(self.page)

    def assert_says(self, *expected: str) -> None:
        """Both documents contain each text."""
        for text in (self.markdown, self.page_text):
            missing = [value for value in expected if value not in text]
            assert not missing, f"figures missing from the brief: {missing}"

    def assert_row_starts(self, *cells: str) -> None:
        """A table row of both documents starts with these cells."""
        assert f"| {' | '.join(cells)} |" in self.markdown, cells
        assert "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) in self.page_text, cells


@pytest.fixture(scope="module")
def brief(warehouse) -> Brief:
    """The brief the DAG wrote for the window's last day, and the figures behind it."""
    written = brief_paths(warehouse, LAST_DAY)
    figures = gather_figures(warehouse, day=LAST_DAY)
    return Brief(written, written.markdown_path.read_text(), written.html_path.read_text(), figures)


def _query(settings, sql: str, *params) -> list[tuple]:
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def test_the_refresh_dag_writes_the_brief_of_the_windows_last_day(warehouse):
    written = brief_paths(warehouse, LAST_DAY)
    assert written.markdown_path.parent == warehouse.briefs_dir / LAST_DAY.isoformat()
    assert written.markdown_path.is_file() and written.html_path.is_file()
    for chart in CHARTS:  # the Markdown's charts sit beside it
        png = (written.markdown_path.parent / f"{chart}.png").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n"), chart
    assert not list(written.markdown_path.parent.glob(".*.tmp")), "a temporary file was left"
    assert _query(warehouse, "select max(stress_date) from marts.market_stress_daily") == [
        (LAST_DAY,)
    ]


def test_the_headline_and_what_moved_equal_the_marts(warehouse, brief):
    prices = _query(
        warehouse,
        "select base_asset, close_usd, change_pct from marts.asset_prices_daily "
        "where price_date = ? and list_contains(?, base_asset)",
        LAST_DAY,
        MAJORS,
    )
    assert prices, "the crash window has prices"
    by_asset = {row["base_asset"]: row for row in brief.figures.rows("prices")}
    assert set(by_asset) == {asset for asset, _, _ in prices}
    for asset, close, change in prices:
        assert (by_asset[asset]["close_usd"], by_asset[asset]["change_pct"]) == (close, change)
        brief.assert_row_starts(asset, fmt.price(close), fmt.pct(change))
        brief.assert_says(f"{fmt.price(close)}", fmt.pct_abs(change))
    down = sum(change < 0 for _, _, change in prices if change is not None)
    tracked = sum(change is not None for _, _, change in prices)
    [(label, venues, cascades)] = _query(
        warehouse,
        "select breadth_label, venues_reporting, cascade_count from marts.market_stress_daily "
        "where stress_date = ?",
        LAST_DAY,
    )
    stress = brief.figures.row("market_stress")
    assert (stress["assets_down"], stress["assets_tracked"]) == (down, tracked)
    assert (stress["breadth_label"], stress["venues_reporting"]) == (label, venues)
    brief.assert_says(f"{down} of {tracked} majors down", f"labels the day {label}")
    [(started,)] = _query(
        warehouse, "select count(*) from marts.liquidation_cascades where start_date = ?", LAST_DAY
    )
    assert stress["cascade_count"] == cascades == started


def test_liquidations_equal_the_marts(warehouse, brief):
    totals = brief.figures.row("liquidation_totals")
    for label, days_back in {"24h": 0, "7d": 6, "30d": 29}.items():
        [(btc_long, btc_short, long_usd, short_usd)] = _query(
            warehouse,
            "select sum(long_liquidations_usd) filter (where base_asset = 'BTC'), "
            "sum(short_liquidations_usd) filter (where base_asset = 'BTC'), "
            "sum(long_liquidations_usd), sum(short_liquidations_usd) "
            "from marts.liquidations_daily where liquidation_date between ? and ?",
            LAST_DAY - timedelta(days=days_back),
            LAST_DAY,
        )
        expected = {
            f"btc_long_liquidations_{label}_usd": btc_long,
            f"btc_short_liquidations_{label}_usd": btc_short,
            f"long_liquidations_{label}_usd": long_usd,
            f"short_liquidations_{label}_usd": short_usd,
        }
        for column, value in expected.items():
            assert totals[column] == pytest.approx(value, rel=1e-9), column
        brief.assert_says(*(fmt.usd(totals[column]) for column in expected))
    brief.assert_says(f"{fmt.usd(totals['long_liquidations_24h_usd'])} of long positions")
    by_venue = {row["exchange_id"]: row for row in brief.figures.rows("liquidations_by_venue")}
    for label, days_back in {"24h": 0, "7d": 6, "30d": 29}.items():
        venues = _query(
            warehouse,
            "select exchange_id, sum(long_liquidations_usd), sum(short_liquidations_usd) "
            "from marts.liquidations_daily where liquidation_date between ? and ? "
            "group by 1 order by 1",
            LAST_DAY - timedelta(days=days_back),
            LAST_DAY,
        )
        assert len(venues) >= 2 and {venue for venue, _, _ in venues} <= set(by_venue)
        for venue, long_usd, short_usd in venues:
            assert by_venue[venue][f"long_{label}_usd"] == pytest.approx(long_usd, rel=1e-9)
            assert by_venue[venue][f"short_{label}_usd"] == pytest.approx(short_usd, rel=1e-9)
            if label == "24h":
                brief.assert_row_starts(venue, fmt.usd(long_usd), fmt.usd(short_usd))
    assert {venue for venue, _, _ in venues} == set(by_venue)  # every venue of the 30 days


def test_open_interest_equals_the_marts(warehouse, brief):
    daily = dict(
        _query(
            warehouse,
            "select snapshot_date, sum(open_interest_usd_close) from marts.open_interest_daily "
            "where snapshot_date between ? and ? group by 1",
            LAST_DAY - timedelta(days=30),
            LAST_DAY,
        )
    )
    today, previous = daily[LAST_DAY], daily[LAST_DAY - timedelta(days=1)]
    oi = brief.figures.row("open_interest")
    assert oi["open_interest_usd"] == pytest.approx(today, rel=1e-9)
    assert oi["open_interest_1d_change_usd"] == pytest.approx(today - previous, rel=1e-6)
    assert oi["open_interest_1d_change_pct"] == pytest.approx((today / previous - 1) * 100)
    month_before = daily.get(LAST_DAY - timedelta(days=30))
    assert (oi["open_interest_30d_change_pct"] is None) == (month_before is None)
    brief.assert_says(
        f"closed at {fmt.usd(today)}",
        f"{fmt.pct_abs(oi['open_interest_1d_change_pct'])} ({fmt.usd(today - previous)})",
    )
    history: dict = {}
    for row in brief.figures.rows("open_interest_history"):
        day = row["snapshot_date"]
        history[day] = history.get(day, 0) + row["open_interest_usd"]
    month = {day: usd for day, usd in daily.items() if day > LAST_DAY - timedelta(days=30)}
    assert history == pytest.approx(month, rel=1e-9)


def test_cascades_and_supports_equal_the_marts(warehouse, brief):
    week = _query(
        warehouse,
        "select base_asset, start_at, long_liquidations_usd from marts.liquidation_cascades "
        "where start_date between ? and ? "
        "order by long_liquidations_usd + short_liquidations_usd desc, start_at, base_asset",
        LAST_DAY - timedelta(days=6),
        LAST_DAY,
    )
    cascades = brief.figures.rows("cascades")
    assert week, "the crash preset liquidates in cascades"
    assert [(row["base_asset"], row["start_at"]) for row in cascades] == [w[:2] for w in week[:5]]
    assert cascades[0]["cascades_7d"] == len(week)
    for asset, start_at, _ in week[:5]:
        brief.assert_row_starts(asset, fmt.clock(start_at))
    brief.assert_says(f"{len(week)} started in the 7 days")

    [(next_support, broken)] = _query(
        warehouse,
        "select max(levels.level_usd) filter (where levels.level_usd < prices.close_usd), "
        "max(levels.level_usd) filter (where levels.first_broken_date = prices.price_date) "
        "from marts.asset_prices_daily as prices inner join marts.support_levels as levels "
        "on levels.base_asset = prices.base_asset and levels.level_type = 'round_number' "
        "where prices.base_asset = 'BTC' and prices.price_date = ?",
        LAST_DAY,
    )
    stress = brief.figures.row("market_stress")
    assert (stress["btc_next_support_usd"], stress["btc_broken_support_usd"]) == (
        next_support,
        broken,
    )
    assert brief.figures.row("support_summary")["next_round_number_usd"] == next_support
    brief.assert_says(f"The next one below is {fmt.price(next_support)}")


def test_contagion_and_treasuries_equal_the_marts(warehouse, brief):
    contagion = _query(
        warehouse,
        "select base_asset, btc_correlation_14d, btc_beta_14d from marts.contagion_daily "
        "where price_date = ? order by 1",
        LAST_DAY,
    )
    assert contagion == [
        (row["base_asset"], row["btc_correlation_14d"], row["btc_beta_14d"])
        for row in brief.figures.rows("contagion")
    ]
    for _, correlation, beta in contagion:
        brief.assert_says(f"correlation with Bitcoin is {fmt.ratio(correlation)}")
        brief.assert_says(f"its beta {fmt.ratio(beta)}")

    holders = _query(
        warehouse,
        "select holder_name, btc_holdings, unrealized_pnl_usd from "
        "marts.treasury_holdings_daily where holding_date = ? order by 3",
        LAST_DAY,
    )
    assert holders, "the treasury seed covers the crash window"
    assert holders == [
        (row["holder_name"], row["btc_holdings"], row["unrealized_pnl_usd"])
        for row in brief.figures.rows("treasury_holdings")
    ]
    for name, btc, pnl in holders:
        brief.assert_row_starts(name, fmt.btc(btc))
        brief.assert_says(f"{_outcome(pnl)} of {fmt.usd(abs(pnl))}")
    if not any(pnl < 0 for _, _, pnl in holders):
        brief.assert_says("No tracked corporate BTC treasury is under water")


def _outcome(pnl: float) -> str:
    return "an unrealized loss" if pnl < 0 else "an unrealized gain"


def test_the_appendix_prints_the_sql_of_every_figure(brief):
    files = sorted(QUERIES_DIR.glob("*.sql"))
    assert {file.stem for file in files} == {"brief_day", *FIGURE_QUERIES}
    appendix_md = brief.markdown.split("## Appendix: the SQL behind every figure", 1)[1]
    appendix_html = brief.page_text.split(">Appendix: the SQL behind every figure<", 1)[1]
    for file in files:
        sql = file.read_text().strip()
        assert f"### SQL: {file.stem}\n" in appendix_md
        assert f"```sql\n{sql}\n```" in appendix_md, file.name
        assert f"dbt_project/analyses/brief/{file.name}" in appendix_md
        assert f'id="sql-{file.stem}"' in brief.page and sql in appendix_html, file.name
    assert f"`$brief_date` = `{LAST_DAY}`" in appendix_md
    cited = set(re.findall(r"\]\(#sql-([a-z_]+)\)", brief.markdown))
    assert cited == set(FIGURE_QUERIES), "every figure query is cited, every citation resolves"
    assert set(re.findall(r'href="#sql-([a-z_]+)"', brief.page)) == cited


def test_the_charts_on_disk_are_drawn_from_the_figures(brief):
    charts = render_charts(brief.figures)
    assert set(charts) == set(CHARTS)
    for name, chart in charts.items():
        assert set(chart.sources) <= set(FIGURE_QUERIES)
        assert (brief.written.markdown_path.parent / chart.filename).read_bytes() == chart.png, name
        assert f"]({chart.filename})" in brief.markdown


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make chromium` (make test does)")
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_the_html_renders_in_headless_chromium(brief, tmp_path):
    assert 'src="http' not in brief.page and 'href="http' not in brief.page, "self-contained"
    dom = _chromium(tmp_path, "--dump-dom", brief.written.html_path.as_uri())
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    assert re.search(r"<h1>Crypto market brief for \d{4}-\d{2}-\d{2}: ", dom.stdout)
    headings = [html.unescape(h) for h in re.findall(r"<h2>([^<]+)</h2>", dom.stdout)]
    assert headings == list(SECTION_TITLES)
    images = re.findall(
        r'<img alt="[^"]+" src="data:image/png;base64,[A-Za-z0-9+/=]+">', dom.stdout
    )
    assert len(images) == len(CHARTS)

    probe = tmp_path / "probe.html"
    probe.write_text(brief.page.replace("</body>", f"{DECODE_PROBE}</body>"))
    probed = _chromium(tmp_path, "--dump-dom", probe.as_uri())
    assert f'data-decoded="{len(CHARTS)}"' in probed.stdout, "every chart decodes"

    screenshot = tmp_path / "brief.png"
    _chromium(
        tmp_path,
        f"--screenshot={screenshot}",
        "--window-size=1280,2400",
        brief.written.html_path.as_uri(),
    )
    with Image.open(screenshot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 50, "the screenshot is blank"
