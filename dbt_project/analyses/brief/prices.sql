-- What moved: the reference daily close (USD) and UTC-day change (%) of each tracked major on
-- the brief's day (asset_prices_daily: the venue with the largest USD volume that day).
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

final as (

    select
        majors.base_asset,
        majors.display_order,
        prices.close_usd,
        prices.change_pct,
        prices.reference_exchange_id,
        prices.venues_reporting

    from majors

    inner join prices
        on majors.base_asset = prices.base_asset

)

select * exclude (display_order) from final
order by display_order
