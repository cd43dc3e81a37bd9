-- Support levels of each tracked major (support_levels): the day's close, the next
-- round-number level and the nearest swing low below it, and the levels whose first break
-- fell in the 7 UTC days ending with the brief's day (count and highest), in USD.
-- Parameters: $brief_date.
with

majors as (

    select *
    from (
        values ('BTC', 1), ('ETH', 2), ('BNB', 3), ('SOL', 4), ('XRP', 5)
    ) as majors (base_asset, display_order)

),

prices as (

    select * from marts.asset_prices_daily
    where price_date = $brief_date::date

),

levels as (

    select * from marts.support_levels

),

final as (

    select
        majors.base_asset,
        majors.display_order,
        prices.close_usd,
        max(levels.level_usd) filter (
            where levels.level_type = 'round_number' and levels.level_usd < prices.close_usd
        ) as next_round_number_usd,
        max(levels.level_usd) filter (
            where
                levels.level_type = 'swing_low'
                and levels.level_usd < prices.close_usd
                and levels.established_date <= $brief_date::date
        ) as next_swing_low_usd,
        count(levels.level_usd) filter (
            where levels.first_broken_date between $brief_date::date - 6 and $brief_date::date
        ) as levels_broken_7d,
        max(levels.level_usd) filter (
            where levels.first_broken_date between $brief_date::date - 6 and $brief_date::date
        ) as highest_broken_7d_usd

    from majors

    inner join prices
        on majors.base_asset = prices.base_asset

    left join levels
        on majors.base_asset = levels.base_asset

    group by all

)

select * exclude (display_order) from final
order by display_order
