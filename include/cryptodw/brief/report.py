"""Write the daily brief: gather the figures, draw the charts, render Markdown and HTML.

Output: `<data_dir>/briefs/<YYYY-MM-DD>/` with `brief.md` (charts as PNG files beside it) and
`brief.html` (the same charts embedded as data URIs, so the file stands alone). Every file is
written to a temporary name and renamed into place; the charts go first and the two documents
last, so a reader never sees a brief that points at missing or half-written files.
"""

from __future__ import annotations

import base64
import logging
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from include.cryptodw.brief import content
from include.cryptodw.brief.charts import Chart, render_charts
from include.cryptodw.brief.figures import Figures, gather_figures
from include.cryptodw.settings import Settings

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).parent / "templates"
SIMULATED_NOTICE = (
    "Simulated market: prices, liquidations and open interest come from the offline market "
    "simulator, not from the exchanges. Treasury holdings are real filings, marked to the "
    "simulated BTC price."
)


@dataclass(frozen=True)
class WrittenBrief:
    brief_date: date
    markdown_path: Path
    html_path: Path


def write_brief(
    settings: Settings, day: date | None = None, on_or_before: date | None = None
) -> WrittenBrief:
    """Write the brief of `day` (default: the latest day in the marts, on or before
    `on_or_before` when given) under settings.briefs_dir; return where it is."""
    figures = gather_figures(settings, day=day, on_or_before=on_or_before)
    charts = render_charts(figures)
    context = brief_context(figures, charts, settings.source_mode)
    written = brief_paths(settings, figures.brief_date)
    written.markdown_path.parent.mkdir(parents=True, exist_ok=True)
    for chart in charts.values():
        _write_atomic(written.markdown_path.parent / chart.filename, chart.png)
    _write_atomic(written.markdown_path, render_markdown(context).encode())
    _write_atomic(written.html_path, render_html(context, charts).encode())
    log.info("wrote the brief of %s to %s", figures.brief_date, written.markdown_path.parent)
    return written


def brief_paths(settings: Settings, brief_date: date) -> WrittenBrief:
    """Where the brief of a day lives: <briefs_dir>/<YYYY-MM-DD>/brief.md and brief.html."""
    out_dir = settings.briefs_dir / brief_date.isoformat()
    return WrittenBrief(brief_date, out_dir / "brief.md", out_dir / "brief.html")


def brief_context(figures: Figures, charts: dict[str, Chart], source_mode: str) -> dict:
    """What both templates render: headline, sections, charts and the appendix's queries."""
    return {
        "headline": content.headline(figures),
        "sections": content.sections(figures),
        "charts": charts,
        "appendix": list(figures.results.values()),
        "notice": SIMULATED_NOTICE if source_mode == "simulated" else None,
    }


def render_markdown(context: dict) -> str:
    return _environment().get_template("brief.md.j2").render(context)


def render_html(context: dict, charts: dict[str, Chart]) -> str:
    images = {name: base64.b64encode(chart.png).decode("ascii") for name, chart in charts.items()}
    return _environment().get_template("brief.html.j2").render(context, images=images)


def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
