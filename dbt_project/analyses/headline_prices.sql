-- Close and UTC-day change of every tracked asset on the last day in the warehouse, one
-- reference price per asset (the venue with the most volume that day).
-- Plain SQL over the published marts: `make demo` prints it, analysts can paste it.
with

last_day as (

    select max(price_date) as price_date
    from marts.asset_prices_daily

),

prices as (

    select
        asset_prices_daily.base_asset,
        asset_prices_daily.close_usd,
        asset_prices_daily.change_pct
    from marts.asset_prices_daily
    inner join last_day
        on asset_prices_daily.price_date = last_day.price_date

)

select * from prices
order by base_asset
