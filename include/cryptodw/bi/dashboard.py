"""The "Market stress" dashboard as data: which marts it reads, its charts and their layout.

Each chart is stored twice in Superset, as the UI does: `params` (the form the chart editor
shows and the browser turns into a query when the dashboard renders) and a saved query
context (what `GET /api/v1/chart/<id>/data/`, reports and alerts run). Both are derived here
from one description. The saved query returns long rows (one per day and series); the
browser pivots them itself.

Every mart named here must be listed in the dbt exposure `market_stress_dashboard`
(dbt_project/models/marts/_marts__exposures.yml); a test checks they agree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

TITLE = "Market stress"
SLUG = "market-stress"
SCHEMA = "marts"
DAY = "P1D"  # Superset's ISO-8601 time grain for days
ROW_LIMIT = 10_000
GRID_COLUMNS = 12
NUMBER_FORMATS = {"usd": ",.0f", "pct": "+.2f"}  # d3 formats by column unit suffix

INTRO = """\
### Market stress
Read from the **published, read-only** warehouse (schema `marts`), swapped in whole after each
refresh passes its checks. Days are UTC, money is USD (USDT at par).
Liquidation totals are lower bounds: Binance's liquidation feed is sampled.
Grain, units and meaning of every column: the dbt docs site (`make dbt-docs`)."""


@dataclass(frozen=True)
class Chart:
    """One chart: where it reads, how it draws (`params`) and its query (`query`)."""

    key: str  # stable name: seeds the chart's uuid and its id in the layout
    title: str
    dataset: str  # a table in schema `marts`
    viz_type: str
    params: dict[str, Any]
    query: dict[str, Any]
    width: int = 6  # of GRID_COLUMNS
    height: int = 50  # grid units (8 px each)


@dataclass(frozen=True)
class Markdown:
    """A text block of the layout (Markdown)."""

    key: str
    text: str
    width: int = 6
    height: int = 50


@dataclass(frozen=True)
class Layout:
    """Rows of the dashboard grid, top to bottom; each row's widths add up to at most 12."""

    rows: tuple[tuple[Chart | Markdown, ...], ...]

    @property
    def charts(self) -> tuple[Chart, ...]:
        return tuple(item for row in self.rows for item in row if isinstance(item, Chart))


def metric(label: str, sql: str) -> dict[str, Any]:
    """A Superset ad-hoc SQL metric."""
    return {"expressionType": "SQL", "sqlExpression": sql, "label": label, "optionName": label}


def _time_axis(column: str) -> dict[str, Any]:
    return {
        "columnType": "BASE_AXIS",
        "expressionType": "SQL",
        "sqlExpression": column,
        "label": column,
        "timeGrain": DAY,
    }


def timeseries(
    key: str,
    title: str,
    dataset: str,
    x_axis: str,
    metrics: list[dict[str, Any]],
    groupby: tuple[str, ...] = (),
    viz_type: str = "echarts_timeseries_line",
    **options: Any,
) -> Chart:
    """A daily time series (line, bar or area) of `metrics`, one series per `groupby` value."""
    params = {
        "x_axis": x_axis,
        "time_grain_sqla": DAY,
        "time_range": "No filter",
        "metrics": metrics,
        "groupby": list(groupby),
        "adhoc_filters": [],
        "row_limit": ROW_LIMIT,
        "order_desc": True,
        "show_legend": True,
        "legendType": "scroll",
        "legendOrientation": "top",
        "rich_tooltip": True,
        "x_axis_time_format": "smart_date",
        "y_axis_format": "SMART_NUMBER",
        **options,
    }
    query = {
        "columns": [_time_axis(x_axis), *groupby],
        "metrics": metrics,
        "orderby": [[x_axis, True]],
        "row_limit": ROW_LIMIT,
    }
    return Chart(key, title, dataset, viz_type, params, query)


def big_number(key: str, title: str, dataset: str, x_axis: str, value: dict[str, Any]) -> Chart:
    """The latest day's value of one metric, over its daily trend line."""
    params = {
        "x_axis": x_axis,
        "time_grain_sqla": DAY,
        "time_range": "No filter",
        "metric": value,
        "adhoc_filters": [],
        "show_trend_line": True,
        "start_y_axis_at_zero": True,
        "compare_lag": 1,
        "compare_suffix": "vs the day before",
        "y_axis_format": "SMART_NUMBER",
    }
    query = {
        "columns": [_time_axis(x_axis)],
        "metrics": [value],
        "orderby": [[x_axis, True]],
        "row_limit": ROW_LIMIT,
    }
    return Chart(key, title, dataset, "big_number", params, query)


def table(
    key: str,
    title: str,
    dataset: str,
    columns: list[str],
    descending_by: str,
    timestamp_format: str = "%Y-%m-%d",
) -> Chart:
    """Rows of a mart as they are (raw mode), sorted by `descending_by`, highest (newest)
    first; amounts formatted by their unit suffix (the marts name every unit: `_usd`, `_pct`)."""
    params = {
        "query_mode": "raw",
        "all_columns": columns,
        "order_by_cols": [f'["{descending_by}", false]'],
        "time_range": "No filter",
        "adhoc_filters": [],
        "row_limit": 1_000,
        "server_page_length": 10,
        "table_timestamp_format": timestamp_format,
        "show_cell_bars": False,
        "column_config": {
            column: {"d3NumberFormat": NUMBER_FORMATS[column.rsplit("_", 1)[-1]]}
            for column in columns
            if column.rsplit("_", 1)[-1] in NUMBER_FORMATS
        },
    }
    query = {"columns": columns, "orderby": [[descending_by, False]], "row_limit": 1_000}
    return Chart(key, title, dataset, "table", params, query)


def _sized(item: Chart, width: int, height: int = 50) -> Chart:
    return replace(item, width=width, height=height)


LIQUIDATIONS_BY_SIDE = timeseries(
    "liquidations_by_side",
    "Liquidations by side (USD per day, all venues)",
    "liquidations_daily",
    "liquidation_date",
    [
        metric("Longs liquidated", "sum(long_liquidations_usd)"),
        metric("Shorts liquidated", "sum(short_liquidations_usd)"),
    ],
    viz_type="echarts_timeseries_bar",
    stack="Stack",
)
OPEN_INTEREST = timeseries(
    "open_interest_by_asset",
    "Open interest by asset (USD, daily close, all venues)",
    "open_interest_daily",
    "snapshot_date",
    [metric("Open interest", "sum(open_interest_usd_close)")],
    groupby=("base_asset",),
    viz_type="echarts_area",
    stack="Stack",
)
PRICES = timeseries(
    "reference_prices",
    "Reference daily close (USD, log scale)",
    "asset_prices_daily",
    "price_date",
    [metric("Close", "max(close_usd)")],
    groupby=("base_asset",),
    logAxis=True,
)
CONTAGION = timeseries(
    "btc_correlation",
    "Correlation with BTC (14 days, NULL before 10 paired days)",
    "contagion_daily",
    "price_date",
    [metric("Correlation", "max(btc_correlation_14d)")],
    groupby=("base_asset",),
)
LONGS_24H = big_number(
    "long_liquidations_24h",
    "Longs liquidated, last day (USD, all assets)",
    "market_stress_daily",
    "stress_date",
    metric("Longs liquidated, 24 h", "max(long_liquidations_24h_usd)"),
)
STRESS_BY_DAY = table(
    "market_stress_by_day",
    "Market stress by day",
    "market_stress_daily",
    [
        "stress_date",
        "breadth_label",
        "btc_close_usd",
        "btc_change_pct",
        "assets_down",
        "assets_tracked",
        "long_liquidations_24h_usd",
        "short_liquidations_24h_usd",
        "long_liquidations_7d_usd",
        "open_interest_usd",
        "open_interest_1d_change_pct",
        "open_interest_30d_change_pct",
        "is_deleveraging",
        "btc_next_support_usd",
        "btc_broken_support_usd",
        "cascade_count",
    ],
    descending_by="stress_date",
)
CASCADES = table(
    "liquidation_cascades",
    "Liquidation cascades",
    "liquidation_cascades",
    [
        "start_at",
        "base_asset",
        "duration_minutes",
        "dominant_side",
        "long_liquidations_usd",
        "short_liquidations_usd",
        "price_move_pct",
        "peak_liquidation_usd_per_minute",
        "venues_involved",
    ],
    descending_by="start_at",
    timestamp_format="%Y-%m-%d %H:%M",
)
SUPPORTS = table(
    "support_levels",
    "Support levels (round numbers and swing lows)",
    "support_levels",
    [
        "base_asset",
        "level_type",
        "level_usd",
        "is_next_below",
        "is_broken",
        "first_broken_date",
        "latest_close_vs_level_pct",
    ],
    descending_by="level_usd",
)

LAYOUT = Layout(
    rows=(
        (Markdown("intro", INTRO, width=8, height=30), _sized(LONGS_24H, 4, 30)),
        (LIQUIDATIONS_BY_SIDE, OPEN_INTEREST),
        (PRICES, CONTAGION),
        (_sized(STRESS_BY_DAY, 12, 50),),
        (_sized(CASCADES, 7, 60), _sized(SUPPORTS, 5, 60)),
    )
)
DATASETS = tuple(sorted({chart.dataset for chart in LAYOUT.charts}))


def form_data(chart: Chart, dataset_id: int) -> dict[str, Any]:
    """The chart's `params` as Superset stores them (with its dataset)."""
    return {
        **chart.params,
        "viz_type": chart.viz_type,
        "datasource": f"{dataset_id}__table",
        "slice_name": chart.title,
    }


def query_context(chart: Chart, dataset_id: int) -> dict[str, Any]:
    """The saved query of a chart (what the chart data API, reports and alerts run)."""
    datasource = {"id": dataset_id, "type": "table"}
    query = {
        "filters": [],
        "extras": {"having": "", "where": ""},
        "time_range": "No filter",
        "metrics": [],
        **chart.query,
    }
    return {
        "datasource": datasource,
        "force": False,
        "queries": [query],
        "form_data": form_data(chart, dataset_id),
        "result_format": "json",
        "result_type": "full",
    }


def position(chart_ids: dict[str, int]) -> dict[str, Any]:
    """Superset's dashboard layout (position_json): a header, then the rows of LAYOUT."""
    nodes: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"type": "HEADER", "id": "HEADER_ID", "meta": {"text": TITLE}},
    }
    for number, row in enumerate(LAYOUT.rows, start=1):
        row_id = f"ROW-{number}"
        nodes["GRID_ID"]["children"].append(row_id)
        nodes[row_id] = {
            "type": "ROW",
            "id": row_id,
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }
        for item in row:
            node = _layout_node(item, chart_ids)
            node["parents"] = ["ROOT_ID", "GRID_ID", row_id]
            nodes[row_id]["children"].append(node["id"])
            nodes[node["id"]] = node
    return nodes


def _layout_node(item: Chart | Markdown, chart_ids: dict[str, int]) -> dict[str, Any]:
    size = {"width": item.width, "height": item.height}
    if isinstance(item, Markdown):
        meta = {"code": item.text, **size}
        return {"type": "MARKDOWN", "id": f"MARKDOWN-{item.key}", "children": [], "meta": meta}
    meta = {"chartId": chart_ids[item.key], "sliceName": item.title, **size}
    return {"type": "CHART", "id": f"CHART-{item.key}", "children": [], "meta": meta}
