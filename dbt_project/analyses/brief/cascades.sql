-- The largest liquidation cascades (liquidation_cascades, any asset) that started in the 7 UTC
-- days ending with the brief's day, by liquidated USD (at most 5): timing, venues, liquidated
-- USD by side, price move and peak rate; cascades_7d counts every cascade of those 7 days.
-- Parameters: $brief_date.
with

cascades as (

    select * from marts.liquidation_cascades
    where start_date between $brief_date::date - 6 and $brief_date::date

),

final as (

    select
        base_asset,
        start_date,
        start_at,
        end_at,
        duration_minutes,
        venues_involved,
        long_liquidations_usd,
        short_liquidations_usd,
        long_liquidations_usd + short_liquidations_usd as total_liquidations_usd,
        dominant_side,
        price_move_pct,
        peak_liquidation_usd_per_minute,
        count(*) over () as cascades_7d

    from cascades

    qualify row_number() over (
        order by long_liquidations_usd + short_liquidations_usd desc, start_at, base_asset
    ) <= 5

)

select * from final
order by total_liquidations_usd desc, start_at, base_asset
