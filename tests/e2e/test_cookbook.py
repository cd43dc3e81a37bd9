"""Every query of docs/cookbook.md runs on the published warehouse and answers its question.

The report figures (recipes 1, 2 and 5) are also checked against this test's own reading of
the raw Binance files.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from offline_run import long_liquidations_usd_by_day, query_marts, read_raw

from include.cryptodw.settings import REPO_ROOT

pytestmark = pytest.mark.slow

COOKBOOK = REPO_ROOT / "docs" / "cookbook.md"
RECIPE = re.compile(r"^## (\d+)\. (.+?)\n.*?```sql\n(.*?)```", re.MULTILINE | re.DOTALL)


def recipes() -> dict[int, tuple[str, str]]:
    return {int(n): (title, sql) for n, title, sql in RECIPE.findall(COOKBOOK.read_text())}


def test_the_cookbook_has_at_least_twelve_numbered_recipes():
    assert sorted(recipes()) == list(range(1, len(recipes()) + 1))
    assert len(recipes()) >= 12


@pytest.mark.parametrize("number", sorted(recipes()))
def test_recipe_runs_read_only_and_returns_rows(warehouse, number):
    _, sql = recipes()[number]
    assert query_marts(warehouse, sql), f"recipe {number} returned no rows"


def _daily_closes(warehouse) -> dict[tuple, float]:
    return {
        (row["open_time"].date(), row["symbol"].removesuffix("USDT")): row["close_price"]
        for row in read_raw(warehouse, "klines")
        if row["interval"] == "1d"
    }


def test_recipe_1_last_closes_are_the_raw_daily_closes(warehouse):
    closes = _daily_closes(warehouse)
    last = max(day for day, _ in closes)
    answer = {
        (base, close)
        for base, exchange, close, _ in query_marts(warehouse, recipes()[1][1])
        if exchange == "binance"
    }
    assert answer == {(base, close) for (day, base), close in closes.items() if day == last}


def test_recipe_2_btc_long_liquidations_over_1_7_30_days(warehouse):
    by_day = long_liquidations_usd_by_day(warehouse, "BTC")
    last = max(by_day)

    def since(days: int) -> float:
        return sum(v for day, v in by_day.items() if day > last - timedelta(days=days))

    (answer,) = query_marts(warehouse, recipes()[2][1])
    assert answer == pytest.approx((since(1), since(7), since(30)), rel=1e-9)


def test_recipe_5_support_breaks_match_the_raw_closes(warehouse):
    btc = sorted(
        (day, close) for (day, base), close in _daily_closes(warehouse).items() if base == "BTC"
    )
    first_below = [next((d for d, c in btc if c < level), None) for level in (75_000, 70_000)]
    (answer,) = query_marts(warehouse, recipes()[5][1])
    assert list(answer[:2]) == first_below
