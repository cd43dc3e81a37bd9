"""Gather the brief's figures: every brief query, run read-only on the published snapshot."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from include.cryptodw.brief.queries import Result, run_query
from include.cryptodw.publish import connect_published
from include.cryptodw.settings import Settings

log = logging.getLogger(__name__)

DAY_QUERY = "brief_day"
# The queries behind the brief's figures, in the order the brief uses them.
FIGURE_QUERIES = (
    "market_stress",
    "prices",
    "breadth_history",
    "contagion",
    "liquidation_totals",
    "liquidations_by_venue",
    "cascades",
    "open_interest",
    "open_interest_history",
    "support_summary",
    "btc_support_levels",
    "price_history",
    "treasury_holdings",
)


class BriefDateError(ValueError):
    """The marts have no market_stress_daily row for the day asked for."""


@dataclass(frozen=True)
class Figures:
    """The results of the day query and every figure query, by query name."""

    brief_date: date
    results: dict[str, Result]

    def rows(self, name: str) -> list[dict]:
        return self.results[name].rows

    def row(self, name: str) -> dict:
        """The single row of a one-row query (an empty dict when it returned none)."""
        rows = self.rows(name)
        return rows[0] if rows else {}


def gather_figures(
    settings: Settings, day: date | None = None, on_or_before: date | None = None
) -> Figures:
    """Run every brief query for `day` (exactly), or for the latest day in the marts on or
    before `on_or_before` (the latest day of all when both are None)."""
    with connect_published(settings) as con:
        day_result = run_query(con, DAY_QUERY, {"on_or_before": day or on_or_before})
        brief_date = _brief_date(day_result, day)
        values = {"brief_date": brief_date}
        results = {DAY_QUERY: day_result}
        results.update({name: run_query(con, name, values) for name in FIGURE_QUERIES})
    log.info("gathered %d brief queries for %s", len(results), brief_date)
    return Figures(brief_date=brief_date, results=results)


def _brief_date(day_result: Result, wanted: date | None) -> date:
    found = day_result.rows[0]["brief_date"]
    if found is None:
        limit = day_result.parameters["on_or_before"]
        raise BriefDateError(f"market_stress_daily has no day{f' up to {limit}' if limit else ''}")
    if wanted is not None and found != wanted:
        raise BriefDateError(
            f"market_stress_daily has no row for {wanted}; the latest day before it is {found}"
        )
    return found
