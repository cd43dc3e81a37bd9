-- Breadth and regime on the brief's day (market_stress_daily): BTC's close and change, how
-- many tracked majors fell, the systemic / localized / calm label, the deleveraging flag, the
-- venues whose liquidation stream was captured, the number of liquidation cascades that
-- started that day, and BTC's round-number support broken that day and the next one below.
-- Parameters: $brief_date.
with

stress as (

    select * from marts.market_stress_daily
    where stress_date = $brief_date::date

),

final as (

    select
        stress_date,
        btc_close_usd,
        btc_change_pct,
        assets_tracked,
        assets_down,
        breadth_label,
        is_deleveraging,
        venues_reporting,
        cascade_count,
        btc_broken_support_usd,
        btc_next_support_usd,
        btc_next_support_distance_pct

    from stress

)

select * from final
