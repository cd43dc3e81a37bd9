"""The brief's four charts, drawn with matplotlib's Agg canvas into PNG bytes.

Figures are built with the object API (`matplotlib.figure.Figure` + `FigureCanvasAgg`), never
pyplot, so no GUI backend or global state is involved and a chart renders the same in an
Airflow task, a test or the CLI.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from include.cryptodw.brief import formats as fmt
from include.cryptodw.brief.figures import Figures

LONG_COLOR, SHORT_COLOR = "#c0392b", "#27ae60"
BREADTH_COLORS = {"systemic": "#c0392b", "localized": "#e67e22", "calm": "#7f8c8d"}
VENUE_COLORS = ("#34495e", "#2980b9", "#8e44ad", "#16a085", "#d35400")
DPI = 100


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    png: bytes
    sources: tuple[str, ...]

    @property
    def filename(self) -> str:
        return f"{self.name}.png"


def render_charts(figures: Figures) -> dict[str, Chart]:
    """Every chart of the brief, by name."""
    charts = [
        price_support_chart(figures),
        liquidations_chart(figures),
        open_interest_chart(figures),
        breadth_chart(figures),
    ]
    return {chart.name: chart for chart in charts}


def price_support_chart(figures: Figures) -> Chart:
    """BTC's daily close and range over 30 days, with its support levels in that range."""
    prices = figures.rows("price_history")
    levels = figures.rows("btc_support_levels")
    figure = Figure(figsize=(9, 4.2), dpi=DPI)
    axes = figure.add_subplot()
    days = [row["price_date"] for row in prices]
    axes.fill_between(
        days,
        [r["low_usd"] for r in prices],
        [r["high_usd"] for r in prices],
        color="#95a5a6",
        alpha=0.3,
        label="daily range",
    )
    axes.plot(
        days,
        [r["close_usd"] for r in prices],
        color="#2c3e50",
        marker="o",
        markersize=3,
        label="close",
    )
    if prices:
        low = min(r["low_usd"] for r in prices)
        high = max(r["high_usd"] for r in prices)
        margin = (high - low) * 0.15 or high * 0.02
        shown = [lv for lv in levels if low - margin <= lv["level_usd"] <= high + margin]
        for level in shown:
            _draw_level(axes, level)
        axes.set_ylim(
            min([low, *(lv["level_usd"] for lv in shown)]) - margin,
            max([high, *(lv["level_usd"] for lv in shown)]) + margin,
        )
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"${value:,.0f}"))
    axes.set_title(f"BTC reference price and support levels, 30 days to {figures.brief_date}")
    axes.legend(loc="upper right", fontsize=8)
    axes.grid(alpha=0.3)
    figure.autofmt_xdate()
    return Chart(
        "price_support",
        "BTC price with support levels",
        _png(figure),
        ("price_history", "btc_support_levels"),
    )


def _draw_level(axes: Axes, level: dict) -> None:
    broken = level["broken_date"] is not None
    color = LONG_COLOR if broken else SHORT_COLOR
    style = "--" if level["level_type"] == "round_number" else ":"
    axes.axhline(level["level_usd"], color=color, linestyle=style, linewidth=1)
    status = f"broken {level['broken_date']}" if broken else "holding"
    kind = "round" if level["level_type"] == "round_number" else "swing low"
    axes.annotate(
        f"{fmt.price(level['level_usd'])} {kind}, {status}",
        xy=(0.01, level["level_usd"]),
        xycoords=("axes fraction", "data"),
        fontsize=7,
        color=color,
        va="bottom",
    )


def liquidations_chart(figures: Figures) -> Chart:
    """Liquidated USD by venue and side over 24h, 7d and 30d (one panel per window)."""
    venues = figures.rows("liquidations_by_venue")
    figure = Figure(figsize=(9, 3.6), dpi=DPI)
    panels = figure.subplots(1, 3)
    names = [row["exchange_id"] for row in venues]
    positions = range(len(names))
    for axes, (period, title) in zip(
        panels, (("24h", "UTC day"), ("7d", "7 days"), ("30d", "30 days")), strict=True
    ):
        longs = [row[f"long_{period}_usd"] or 0 for row in venues]
        shorts = [row[f"short_{period}_usd"] or 0 for row in venues]
        axes.bar([p - 0.2 for p in positions], longs, width=0.4, color=LONG_COLOR, label="longs")
        axes.bar([p + 0.2 for p in positions], shorts, width=0.4, color=SHORT_COLOR, label="shorts")
        axes.set_xticks(list(positions), names, fontsize=8)
        axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: fmt.usd(value)))
        axes.tick_params(axis="y", labelsize=7)
        axes.set_title(title, fontsize=9)
        axes.grid(axis="y", alpha=0.3)
    panels[0].legend(fontsize=7)
    figure.suptitle(f"Liquidated positions by venue and side, to {figures.brief_date}")
    figure.tight_layout()
    return Chart(
        "liquidations", "Liquidations by side and venue", _png(figure), ("liquidations_by_venue",)
    )


def open_interest_chart(figures: Figures) -> Chart:
    """Perpetual open interest over 30 days, stacked by venue."""
    history = figures.rows("open_interest_history")
    days = sorted({row["snapshot_date"] for row in history})
    venues = sorted({row["exchange_id"] for row in history})
    value = {
        (row["snapshot_date"], row["exchange_id"]): row["open_interest_usd"] for row in history
    }
    figure = Figure(figsize=(9, 3.8), dpi=DPI)
    axes = figure.add_subplot()
    if days:
        axes.stackplot(
            days,
            [[value.get((d, v), 0) for d in days] for v in venues],
            labels=venues,
            colors=VENUE_COLORS[: len(venues)],
            alpha=0.85,
        )
        axes.legend(loc="upper left", fontsize=8)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.usd(v)))
    axes.set_title(f"Perpetual open interest by venue, 30 days to {figures.brief_date}")
    axes.grid(alpha=0.3)
    figure.autofmt_xdate()
    return Chart(
        "open_interest", "30 days of open interest", _png(figure), ("open_interest_history",)
    )


def breadth_chart(figures: Figures) -> Chart:
    """The day's change of each major, and how many majors fell on each of 30 days."""
    prices = figures.rows("prices")
    history = figures.rows("breadth_history")
    figure = Figure(figsize=(9, 3.6), dpi=DPI)
    today, days = figure.subplots(1, 2, width_ratios=(1, 2))
    changes = [row["change_pct"] or 0 for row in prices]
    today.bar(
        [row["base_asset"] for row in prices],
        changes,
        color=[LONG_COLOR if change < 0 else SHORT_COLOR for change in changes],
    )
    today.axhline(0, color="black", linewidth=0.8)
    today.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+.1f}%"))
    today.set_title(f"Change on {figures.brief_date}", fontsize=9)
    dated = [row for row in history if row["breadth_label"] is not None]
    days.bar(
        [row["stress_date"] for row in dated],
        [row["assets_down"] for row in dated],
        color=[BREADTH_COLORS[row["breadth_label"]] for row in dated],
    )
    days.plot(
        [row["stress_date"] for row in dated],
        [row["assets_tracked"] for row in dated],
        color="black",
        linestyle=":",
        marker="_",
    )
    legend = [Patch(color=color, label=label) for label, color in BREADTH_COLORS.items()]
    days.legend(
        handles=[*legend, Patch(fill=False, linestyle=":", label="majors with a change")],
        fontsize=7,
        loc="upper left",
        ncol=4,
    )
    days.set_ylim(0, max([row["assets_tracked"] for row in dated], default=1) * 1.35)
    days.set_title("Majors down per day (colour: breadth label)", fontsize=9)
    days.yaxis.get_major_locator().set_params(integer=True)
    days.tick_params(axis="x", labelrotation=45, labelsize=7)
    figure.tight_layout()
    return Chart("breadth", "Breadth", _png(figure), ("prices", "breadth_history"))


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer, metadata={"Software": None})
    return buffer.getvalue()
