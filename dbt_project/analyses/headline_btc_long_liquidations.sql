-- BTC long liquidations (USD, all venues) over the last 1, 7 and 30 UTC days in the warehouse.
with

last_day as (

    select max(liquidation_date) as liquidation_date
    from marts.liquidations_daily

),

btc_longs as (

    select
        liquidations_daily.liquidation_date,
        liquidations_daily.long_liquidations_usd,
        last_day.liquidation_date - liquidations_daily.liquidation_date as days_back
    from marts.liquidations_daily
    cross join last_day
    where liquidations_daily.base_asset = 'BTC'

)

select
    sum(long_liquidations_usd) filter (where days_back < 1) as long_24h_usd,
    sum(long_liquidations_usd) filter (where days_back < 7) as long_7d_usd,
    sum(long_liquidations_usd) filter (where days_back < 30) as long_30d_usd
from btc_longs
