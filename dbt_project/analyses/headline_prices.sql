-- Close and UTC-day change of every tracked asset on the last day in the warehouse.
-- Plain SQL over the published marts: `make demo` prints it, analysts can paste it.
with

last_day as (

    select max(price_date) as price_date
    from marts.prices_daily

),

prices as (

    select
        prices_daily.base_asset,
        prices_daily.close_usd,
        prices_daily.change_pct
    from marts.prices_daily
    inner join last_day
        on prices_daily.price_date = last_day.price_date

)

select * from prices
order by base_asset
