-- BTC's support levels as of the brief's day (support_levels): each level known by then, the
-- day the close first broke it if that was on or before the brief's day, and whether it lies
-- below the day's close.
-- Parameters: $brief_date.
with

levels as (

    select * from marts.support_levels
    where base_asset = 'BTC'

),

day_close as (

    select close_usd from marts.asset_prices_daily
    where base_asset = 'BTC' and price_date = $brief_date::date

),

final as (

    select
        levels.level_type,
        levels.level_usd,
        levels.established_date,
        case
            when levels.first_broken_date <= $brief_date::date then levels.first_broken_date
        end as broken_date,
        levels.level_usd < day_close.close_usd as is_below_close

    from levels

    cross join day_close

    where levels.established_date is null or levels.established_date <= $brief_date::date

)

select * from final
order by level_usd desc
