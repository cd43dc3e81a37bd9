-- The last day's market-stress summary: breadth, open interest, deleveraging, support, cascades.
select
    stress_date,
    breadth_label,
    assets_down,
    assets_tracked,
    open_interest_usd,
    open_interest_1d_change_pct,
    open_interest_30d_change_pct,
    is_deleveraging,
    btc_broken_support_usd,
    btc_next_support_usd,
    cascade_count,
    venues_reporting
from marts.market_stress_daily
order by stress_date desc
limit 1
