-- Liquidations by venue and side (liquidations_daily, all base assets): liquidated long and
-- short positions in USD over the brief's UTC day (24h) and the 7 and 30 UTC days ending with
-- it. A sampled feed (Binance's) reports lower bounds.
-- Parameters: $brief_date.
with

liquidations as (

    select * from marts.liquidations_daily
    where liquidation_date between $brief_date::date - 29 and $brief_date::date

),

final as (

    select
        exchange_id,
        sum(long_liquidations_usd) filter (
            where liquidation_date = $brief_date::date
        ) as long_24h_usd,
        sum(short_liquidations_usd) filter (
            where liquidation_date = $brief_date::date
        ) as short_24h_usd,
        sum(long_liquidations_usd) filter (
            where liquidation_date >= $brief_date::date - 6
        ) as long_7d_usd,
        sum(short_liquidations_usd) filter (
            where liquidation_date >= $brief_date::date - 6
        ) as short_7d_usd,
        sum(long_liquidations_usd) as long_30d_usd,
        sum(short_liquidations_usd) as short_30d_usd,
        bool_or(is_sampled_feed) as is_sampled_feed

    from liquidations

    group by all

)

select * from final
order by exchange_id
