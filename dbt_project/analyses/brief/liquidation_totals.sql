-- Liquidations across venues (market_stress_daily): liquidated long and short positions in
-- USD over the brief's UTC day (24h) and the 7 and 30 UTC days ending with it, for BTC and for
-- all base assets, with the number of captured days in the 30-day window.
-- Parameters: $brief_date.
with

stress as (

    select * from marts.market_stress_daily
    where stress_date = $brief_date::date

),

final as (

    select
        btc_long_liquidations_24h_usd,
        btc_short_liquidations_24h_usd,
        btc_long_liquidations_7d_usd,
        btc_short_liquidations_7d_usd,
        btc_long_liquidations_30d_usd,
        btc_short_liquidations_30d_usd,
        long_liquidations_24h_usd,
        short_liquidations_24h_usd,
        long_liquidations_7d_usd,
        short_liquidations_7d_usd,
        long_liquidations_30d_usd,
        short_liquidations_30d_usd,
        liquidation_days_30d

    from stress

)

select * from final
